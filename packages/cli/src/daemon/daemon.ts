// The local daemon (`kots-backup daemon`): the embedded default for users without AWS.
//
// One loop ticks every `tickMs`:
//   schedule   core's planSlots (the slot math freshness uses) says which slots are due; each is
//              fired in the background through the run-backup use case (trigger `schedule`), which
//              claims the slot create-only in the state store: a restart or a second daemon never
//              starts a slot twice;
//   follow     its own backups in progress are read every `followIntervalMs` until terminal;
//   reconcile  every `verifyIntervalMs` (and after a backup ends), single-flight, in the background,
//              with the decisions the Lambdas make too (core's usecases/follow.ts, reconcile.ts):
//              follow every backup the slot claims name (Backup Completed / Backup Failed, once
//              each, whichever process sees it), export each exported schedule's newest exportable
//              backup without a manifest, whoever started it (the engine skips objects already
//              copied, so an interrupted export resumes), then verify + alert (Check Down / Check Up
//              through verify's outbox), publish the figures on /metrics and ping the heartbeat URL;
//   drill      with `drill:` set, the offline restore drill runs on its slots (planSlots, the same slot
//              math) over the newest exports at the destination; the run is recorded under
//              state/drills/ (its newest run marks the last slot fired, across restarts) and a verify
//              follows, so the `drill` check pages on a failing drill at once.
// Shutdown (abort signal: SIGTERM/SIGINT in the command): nothing new starts; work in flight is
// awaited up to `shutdownTimeoutMs`. Every state write is a single atomic object write (claims,
// check records, export manifest written last), so stopping at any point leaves no half-written
// state: an unfinished export simply has no manifest and resumes at the next start.
import type { Channel } from "@kots-backup/adapters/alerts/index";
import { drillAndRecord } from "@kots-backup/adapters/drill/offline";
import { clusterExportDeps } from "@kots-backup/adapters/export/deps";
import { type ExportDeps, type ExportResult, exportBackup } from "@kots-backup/adapters/export/engine";
import type { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { deliveryPort, verifySources } from "@kots-backup/adapters/runtime/verify-wiring";
import { StateStore, slotClaimStore } from "@kots-backup/adapters/state/state-store";
import { DetailType, isKotsBackupError, type KotsBackupEvent, type ObjectStore } from "@kots-backup/core";
import type { Config, ScheduleConfig } from "@kots-backup/core/config";
import {
  lastFiredFromClaims,
  type PlanSchedule,
  planSlots,
  type SlotSource,
  slotIso,
} from "@kots-backup/core/daemon-plan";
import { DRILL_CHECK_NAME } from "@kots-backup/core/export-layout";
import { readDrillRuns } from "@kots-backup/core/usecases/drill-runs";
import { type FollowCandidate, followBackups, followCandidates } from "@kots-backup/core/usecases/follow";
import { listBackupsWithNames } from "@kots-backup/core/usecases/list-backups";
import {
  choiceOf,
  type ExportJob,
  type ExportJobOutcome,
  exportRequestFor,
  pendingExports,
  runExportJobs,
  scheduledRun,
} from "@kots-backup/core/usecases/reconcile";
import { runBackup } from "@kots-backup/core/usecases/run-backup";
import {
  type DeliverPort,
  runVerify,
  type VerifyRun,
  type VerifySources,
} from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { isTerminalPhase } from "@kots-backup/core/velero";
import { ping } from "./heartbeat.ts";
import { DaemonMetrics, type MetricsServer, serveMetrics } from "./metrics.ts";

export type DaemonLog = (
  level: "info" | "warn" | "error",
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** What the daemon did, for narration (the demo) and tests. */
export type DaemonEvent =
  | { type: "started"; schedules: string[]; metricsPort?: number }
  | { type: "slot"; schedule: string; slot: string; lateByMs: number }
  | { type: "slot-too-late"; schedule: string; slot: string }
  | { type: "event"; event: KotsBackupEvent }
  | { type: "phase"; backup: string; phase: string }
  | { type: "export-started"; backup: string; schedule: string }
  | { type: "export-completed"; result: ExportResult; schedule: string }
  | { type: "export-failed"; backup: string; schedule: string; error: string }
  | { type: "verify"; run: VerifyRun }
  | { type: "drill"; slot: string; ok: boolean; backups: number }
  | { type: "heartbeat"; ok: boolean; detail: string }
  | { type: "error"; where: string; message: string }
  | { type: "stopping"; inFlight: number };

export interface DaemonOptions {
  config: Config;
  cluster: KubeKotsCluster;
  destination: ObjectStore;
  channels: readonly Channel[];
  log: DaemonLog;
  onEvent?: (event: DaemonEvent) => void;
  now?: () => Date;
  /** Loop period (default 1 s). */
  tickMs?: number;
  /** How often in-progress backups are read (default 5 s). */
  followIntervalMs?: number;
  /** Default: `daemon.verifyInterval` of the config. */
  verifyIntervalMs?: number;
  /** Wait for work in flight at shutdown (default 20 s; Kubernetes' grace period is 30 s). */
  shutdownTimeoutMs?: number;
  /** Resolved `daemon.heartbeatUrl`: pinged after each verify run. Never logged. */
  heartbeatUrl?: { reveal(): string };
  /** Serve /metrics and /healthz on this port (0: any free port). */
  metricsPort?: number;
  metricsHost?: string;
  /** Override of the slot math (the demo's seconds-level schedule); default each schedule's cron. */
  slotSource?: (schedule: PlanSchedule) => SlotSource;
  /** Extra export settings (source BSL store, server-side copy, …). */
  exportDeps?: Partial<ExportDeps>;
}

export interface DaemonSummary {
  slotsFired: number;
  backupsStarted: number;
  exportsCompleted: number;
  exportsFailed: number;
  verifyRuns: number;
  /** Work still running when the shutdown timeout ran out (it resumes at the next start). */
  abandoned: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class Daemon {
  readonly metrics = new DaemonMetrics();
  readonly state: StateStore;
  readonly #o: DaemonOptions;
  readonly #now: () => Date;
  readonly #schedules: ScheduleConfig[];
  readonly #inFlight = new Set<Promise<unknown>>();
  /** This process's own backups in progress, followed every `followIntervalMs` → last phase seen. */
  readonly #following = new Map<string, FollowCandidate & { phase: string }>();
  readonly #manifestCache: NonNullable<VerifySources["manifestCache"]> = new Map();
  #lastFired: Record<string, string> = {};
  /** The drill's last slot fired (or the newest recorded run); undefined before the first. */
  #drillLastFired: string | undefined;
  #reconciling: Promise<void> | undefined;
  #reconcileRequested = true;
  #nextReconcileAt = 0;
  #nextFollowAt = 0;
  #stopping = false;
  #stopSignal: AbortSignal | undefined;

  constructor(options: DaemonOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#schedules = options.config.schedules;
    this.state = new StateStore(options.destination);
    this.#deliverPort = deliveryPort(options.channels, (level, text) => options.log(level, `alert ${text}`));
  }

  #emit(event: DaemonEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch {
      // narration must never break the daemon
    }
  }

  #error(where: string, error: unknown): void {
    const text = message(error);
    this.#o.log(
      "error",
      `${where}: ${text}`,
      isKotsBackupError(error) && error.fix ? { fix: error.fix } : {},
    );
    this.#emit({ type: "error", where, message: text });
  }

  #track<T>(work: Promise<T>): void {
    const tracked = work.catch(() => undefined).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /**
   * Sends a non-check event (Backup …, Export …) to the channels that take it, and logs it. True when
   * every channel that takes it got it (follow's markers retry the others later).
   */
  readonly #publish = async (event: KotsBackupEvent): Promise<boolean> => {
    this.#o.log(event.detailType.includes("Fail") ? "warn" : "info", event.detailType, {
      ...(event.detail.schedule ? { schedule: event.detail.schedule } : {}),
      ...(event.detail.backup ? { backup: event.detail.backup } : {}),
      ...(event.detail.message ? { detail: event.detail.message } : {}),
    });
    this.#emit({ type: "event", event });
    const results = await this.#deliverPort(event);
    for (const r of results.filter((x) => !x.ok))
      this.#o.log("warn", `could not deliver ${event.detailType} to ${r.channel}`, { error: r.error });
    return results.every((r) => r.ok);
  };

  readonly #deliverPort: DeliverPort;

  /** Runs until `signal` aborts; then waits for work in flight (bounded) and resolves. */
  async run(signal: AbortSignal): Promise<DaemonSummary> {
    this.#stopSignal = signal;
    const tickMs = this.#o.tickMs ?? 1_000;
    let server: MetricsServer | undefined;
    if (this.#o.metricsPort !== undefined) {
      server = await serveMetrics(this.metrics, {
        port: this.#o.metricsPort,
        ...(this.#o.metricsHost ? { host: this.#o.metricsHost } : {}),
        staleAfterMs: Math.max(30_000, tickMs * 10),
      });
      this.#o.log("info", `metrics on http://${server.host}:${server.port}/metrics`);
    }
    try {
      this.#lastFired = lastFiredFromClaims(await this.state.listClaims());
    } catch (error) {
      this.#error("reading slot claims (slots are still claimed create-only before any backup)", error);
    }
    if (this.#o.config.drill) {
      try {
        this.#drillLastFired = (await readDrillRuns(this.#o.destination, 1))[0]?.at;
      } catch (error) {
        this.#error("reading the newest drill run (the latest drill slot may run again)", error);
      }
    }
    this.#o.log("info", "daemon started", {
      schedules: this.#schedules.map((s) => `${s.name} (${s.cron} ${s.timezone})`),
      destination: this.#o.destination.location,
      cluster: this.#o.config.cluster.name,
    });
    this.#emit({
      type: "started",
      schedules: this.#schedules.map((s) => s.name),
      ...(server ? { metricsPort: server.port } : {}),
    });
    try {
      while (!signal.aborted) {
        this.metrics.lastTickAt = Date.now();
        this.#tick();
        await sleep(tickMs, signal);
      }
    } finally {
      this.#stopping = true;
      const abandoned = await this.#drain();
      await server?.close();
      await this.#o.cluster.close().catch(() => {});
      this.#summary.abandoned = abandoned;
    }
    return this.#summary;
  }

  readonly #summary: DaemonSummary = {
    slotsFired: 0,
    backupsStarted: 0,
    exportsCompleted: 0,
    exportsFailed: 0,
    verifyRuns: 0,
    abandoned: 0,
  };

  async #drain(): Promise<number> {
    const inFlight = [...this.#inFlight];
    this.#emit({ type: "stopping", inFlight: inFlight.length });
    if (inFlight.length === 0) return 0;
    this.#o.log("info", `stopping: waiting for ${inFlight.length} task(s) in flight`);
    const timeoutMs = this.#o.shutdownTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled(inFlight).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return 0;
    const left = this.#inFlight.size;
    this.#o.log(
      "warn",
      `stopping with ${left} task(s) unfinished after ${timeoutMs} ms: an unfinished export has no manifest and resumes at the next start`,
    );
    return left;
  }

  /** One loop turn: fire due slots, follow, maybe reconcile. Never throws. */
  #tick(): void {
    const now = this.#now();
    const plan = planSlots({
      schedules: this.#schedules,
      lastFired: this.#lastFired,
      now,
      ...(this.#o.slotSource ? { slotSource: this.#o.slotSource } : {}),
    });
    for (const late of plan.skipped) {
      this.#lastFired[late.schedule] = slotIso(late.slot);
      this.#o.log(
        "warn",
        `slot ${slotIso(late.slot)} of ${late.schedule} passed while the daemon was not running; not caught up`,
        {
          schedule: late.schedule,
        },
      );
      this.#emit({ type: "slot-too-late", schedule: late.schedule, slot: slotIso(late.slot) });
    }
    for (const due of plan.due) {
      const schedule = this.#schedules.find((s) => s.name === due.schedule);
      if (!schedule) continue;
      const slot = slotIso(due.slot);
      this.#lastFired[due.schedule] = slot;
      this.#track(this.#fire(schedule, slot, due.lateByMs));
    }
    this.#planDrill(now);
    if (now.getTime() >= this.#nextFollowAt && this.#following.size > 0) {
      this.#nextFollowAt = now.getTime() + (this.#o.followIntervalMs ?? 5_000);
      this.#track(this.#follow());
    }
    const interval = this.#o.verifyIntervalMs ?? this.#o.config.daemon.verifyInterval;
    if (!this.#reconciling && (this.#reconcileRequested || now.getTime() >= this.#nextReconcileAt)) {
      this.#reconcileRequested = false;
      this.#nextReconcileAt = now.getTime() + interval;
      const run = this.#reconcile().finally(() => {
        this.#reconciling = undefined;
      });
      this.#reconciling = run;
      this.#track(run);
    }
  }

  /** Fires the drill's due slot, if any (a slot older than its grace is not caught up: `drill-missed`). */
  #planDrill(now: Date): void {
    const drill = this.#o.config.drill;
    if (!drill) return;
    const plan = planSlots({
      schedules: [
        {
          name: DRILL_CHECK_NAME,
          cron: drill.schedule,
          timezone: drill.timezone,
          grace: drill.grace,
          paused: drill.paused,
        },
      ],
      lastFired: { [DRILL_CHECK_NAME]: this.#drillLastFired },
      now,
    });
    for (const late of plan.skipped) {
      this.#drillLastFired = slotIso(late.slot);
      this.#o.log(
        "warn",
        `drill slot ${slotIso(late.slot)} passed while the daemon was not running; not caught up`,
      );
    }
    for (const due of plan.due) {
      this.#drillLastFired = slotIso(due.slot);
      this.#track(this.#drill(slotIso(due.slot)));
    }
  }

  async #drill(slot: string): Promise<void> {
    if (this.#stopping) return;
    try {
      const live = this.#o.config.drill?.cluster;
      const { run, pruneError } = await drillAndRecord(this.#o.destination, this.#now(), {
        ...(live ? { live, warn: (message: string) => this.#o.log("warn", message, { slot }) } : {}),
        onBackup: (backup) => this.#o.log("info", `drilling ${backup}`, { slot }),
      });
      const failed = run.results.filter((r) => !r.ok);
      this.#o.log(run.ok ? "info" : "warn", run.ok ? "restore drill passed" : "restore drill failed", {
        slot,
        drilled: run.results.map(
          (r) =>
            `${r.backup}=${r.ok ? "ok" : "failed"} ${r.durationMs} ms${r.restoreMs !== undefined ? ` (RTO ${r.restoreMs} ms)` : ""}`,
        ),
        ...(failed.length > 0 ? { causes: failed.map((r) => `${r.backup}: ${r.cause ?? ""}`) } : {}),
      });
      if (pruneError)
        this.#o.log("warn", "could not delete older drill runs under state/drills/", { reason: pruneError });
      this.#emit({ type: "drill", slot, ok: run.ok, backups: run.results.length });
      // The check sees the new run at once: a failing drill pages now, not at the next interval.
      this.#reconcileRequested = true;
    } catch (error) {
      this.#error(`restore drill of slot ${slot}`, error);
    }
  }

  async #fire(schedule: ScheduleConfig, slot: string, lateByMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#summary.slotsFired += 1;
    this.metrics.counters.slotsFired += 1;
    this.#o.log("info", `slot ${slot} of schedule ${schedule.name}`, {
      schedule: schedule.name,
      slot,
      lateByMs,
    });
    this.#emit({ type: "slot", schedule: schedule.name, slot, lateByMs });
    try {
      const result = await runBackup(scheduledRun(schedule, slot), {
        cluster: this.#o.cluster,
        claims: slotClaimStore(this.state),
        emit: async (event) => {
          await this.#publish(event);
        },
        now: this.#now,
        log: (level, text, fields) => this.#o.log(level, text, fields),
      });
      if (result.outcome === "started") {
        this.#summary.backupsStarted += 1;
        this.metrics.counters.backupsStarted += 1;
      }
      if (result.outcome === "started" || result.outcome === "deduplicated") {
        if (!isTerminalPhase(result.phase))
          this.#following.set(result.name, {
            backup: result.name,
            schedule: schedule.name,
            slot,
            phase: result.phase,
          });
        this.#emit({ type: "phase", backup: result.name, phase: result.phase });
      } else if (result.outcome === "skipped" || result.outcome === "claimed-elsewhere") {
        this.#o.log("info", `slot ${slot} of ${schedule.name}: ${result.outcome}`, { reason: result.reason });
      }
    } catch (error) {
      this.#error(`scheduled backup ${schedule.name} ${slot}`, error);
    }
  }

  /**
   * Follows `candidates` with core's follow (the Lambdas' too): narrates phase changes of this process's
   * own backups and emits each terminal event once, whichever process sees it first.
   */
  async #followEach(candidates: readonly FollowCandidate[]): Promise<void> {
    const followed = await followBackups(candidates, {
      cluster: this.#o.cluster,
      store: this.#o.destination,
      emit: this.#publish,
      now: this.#now,
    });
    const running = new Set(followed.filter((f) => f.outcome === "running").map((f) => f.backup));
    for (const f of followed) {
      const own = this.#following.get(f.backup);
      if (own && f.phase && f.phase !== own.phase) {
        own.phase = f.phase;
        this.#o.log("info", `backup ${f.backup}: ${f.phase}`, { backup: f.backup, phase: f.phase });
        this.#emit({ type: "phase", backup: f.backup, phase: f.phase });
      }
      if (f.outcome === "emitted") this.#reconcileRequested = true;
    }
    for (const c of candidates) if (!running.has(c.backup)) this.#following.delete(c.backup);
  }

  /** Reads this process's backups in progress. */
  async #follow(): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.#followEach([...this.#following.values()]);
    } catch (error) {
      this.#error("following backups", error);
    }
  }

  /** Follow (every claimed backup), export what is due, then verify and alert; core decides each. */
  async #reconcile(): Promise<void> {
    if (this.#stopping) return;
    const { config, cluster, destination } = this.#o;
    try {
      await this.#followEach(followCandidates(await this.state.listClaims(), this.#now()));
    } catch (error) {
      this.#error("following claimed backups", error);
    }
    if (this.#stopping) return;
    try {
      const jobs = await pendingExports(config.schedules, config.export, {
        backups: () => listBackupsWithNames({}, { cluster, claims: slotClaimStore(this.state) }),
        destination,
        now: this.#now(),
      });
      await runExportJobs(jobs, (job) => this.#export(job), {
        destination,
        now: this.#now,
        ...(this.#stopSignal ? { signal: this.#stopSignal } : {}),
      });
    } catch (error) {
      this.#o.log("warn", `could not plan exports: ${message(error)}`);
    }
    if (this.#stopping) return;
    await this.#verify();
  }

  async #export(job: ExportJob): Promise<ExportJobOutcome> {
    const { config, cluster, destination } = this.#o;
    const { backup } = job;
    const schedule = job.schedule ?? "";
    this.#o.log("info", `exporting backup ${backup} to ${destination.location}`, { backup, schedule });
    this.#emit({ type: "export-started", backup, schedule });
    const request = exportRequestFor(config, choiceOf(job));
    try {
      const deps = await clusterExportDeps({
        config: config.export,
        cluster,
        destination,
        scope: request.scope,
        emit: async (event) => {
          await this.#publish(event);
        },
        log: (level, text, fields) => this.#o.log(level, text, fields),
      });
      const result = await exportBackup(request, { ...deps, now: this.#now, ...this.#o.exportDeps });
      this.#summary.exportsCompleted += 1;
      this.metrics.counters.exportsCompleted += 1;
      this.#o.log("info", `export of ${backup} ${result.alreadyExported ? "was already done" : "verified"}`, {
        backup,
        scope: result.scope,
        objects: result.objects,
        bytes: result.bytes,
        copiedObjects: result.copiedObjects,
        skippedObjects: result.skippedObjects,
      });
      this.#emit({ type: "export-completed", result, schedule });
      return { backup, ...(job.schedule ? { schedule: job.schedule } : {}), done: true, verified: true };
    } catch (error) {
      this.#summary.exportsFailed += 1;
      this.metrics.counters.exportsFailed += 1;
      this.#error(`export of ${backup}`, error);
      this.#emit({ type: "export-failed", backup, schedule, error: message(error) });
      throw error;
    }
  }

  async #verify(): Promise<void> {
    const { config, cluster, destination } = this.#o;
    try {
      const sources = await verifySources({
        openCluster: async () => cluster,
        clusterName: config.cluster.name,
        destination,
        manifestCache: this.#manifestCache,
        external: { points: config.external, allowCommand: true },
        log: (level, text, fields) => this.#o.log(level, text, fields),
      });
      const run = await runVerify(config.schedules, {
        ...sources,
        ...(config.drill ? { drill: config.drill } : {}),
        records: checkRecordStore(destination),
        deliver: this.#deliverPort,
        channels: this.#o.channels.map((c) => c.name),
        now: this.#now(),
        logError: (text, fields) => this.#o.log("error", text, fields),
      });
      this.#summary.verifyRuns += 1;
      this.metrics.record(config.cluster.name, run.facts.now, run.figures);
      for (const t of run.transitions) {
        for (const event of t.events)
          this.#o.log(
            event.detailType === DetailType.checkDown ? "warn" : "info",
            `${event.detailType}: ${t.schedule}`,
            {
              reasons: event.detail.reasons,
              detail: event.detail.message,
            },
          );
        if (t.suppressed) this.#o.log("info", `${t.schedule} is down but silenced: nobody was paged`);
      }
      this.#o.log("info", "verified", {
        checks: run.report.checks.map(
          (c) => `${c.name}=${c.state}${c.reasons.length ? `(${c.reasons.join(",")})` : ""}`,
        ),
      });
      this.#emit({ type: "verify", run });
      await this.#heartbeat();
    } catch (error) {
      this.metrics.counters.verifyErrors += 1;
      this.#error("verify", error);
    }
  }

  async #heartbeat(): Promise<void> {
    const url = this.#o.heartbeatUrl;
    if (!url) return;
    const outcome = await ping(url.reveal());
    if (!outcome.ok) {
      this.metrics.counters.heartbeatFailures += 1;
      this.#o.log("warn", `heartbeat ping failed: ${outcome.detail}`);
    }
    this.#emit({ type: "heartbeat", ...outcome });
  }
}

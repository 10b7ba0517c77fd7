// `kots-backup backup` and the scheduled trigger: ask kotsadm for a backup the way `kubectl kots
// backup` does, exactly once per schedule slot, and optionally follow it to a terminal phase.
//
// Exactly once per (schedule, slot):
//   1. claim the slot in the state store, create-only: one winner among retries, duplicate
//      deliveries and concurrent invocations; the losers report the winner's backup (deduplicated);
//   2. the winner looks for a KOTS backup of the same kind already requested in the slot (e.g. a run
//      whose claim record was lost) and adopts it instead of asking again; "in the slot" is
//      [slot, now + clock skew]: a Backup dated later has not been requested yet, whatever it says;
//   3. when a previous backup of the same kind is still InProgress, the run is skipped, as kotsadm's
//      own scheduler does ("Backup Skipped"; freshness counts it as a missed slot once grace passes);
//   4. otherwise kotsadm is asked once. A dropped or failed answer is never blindly repeated: the
//      Backups requested since the request began are searched first, and only when none appeared is
//      kotsadm asked again.
import {
  type BackupSummary,
  type BackupType,
  CLOCK_SKEW_TOLERANCE_MS,
  isAppBackup,
  isKotsadmInstanceBackup,
  requestedAtOf,
  requestedWithin,
  type Trigger,
} from "../backups.ts";
import { EnvironmentError, InputError } from "../errors.ts";
import { DetailType, dedupKey, type KotsBackupEvent } from "../events.ts";
import type { KotsCluster } from "../ports.ts";
import { ClaimOutcome, type SlotClaim } from "../state.ts";
import { KotsStatus, kotsStatusOf, phaseOf, type VeleroBackup } from "../velero.ts";
import { backupEndedEvent } from "./follow.ts";
import type { Emit, SlotClaimStore, UseCaseLog } from "./ports.ts";

export interface RunBackupInput {
  type: BackupType;
  app?: string;
  /** Follow the backup until its phase is terminal (default true, as `kubectl kots backup`). */
  wait?: boolean;
  /** Bound on following (default 4h). */
  timeoutMs?: number;
  trigger: Trigger;
  /** kots-backup schedule name (scheduled runs). */
  schedule?: string;
  /** RFC 3339 scheduled time of the slot (scheduled runs). */
  slot?: string;
  /** Field names for messages: CLI flags (`--app`) or event fields (`app`). */
  fields?: { app?: string; type?: string };
}

export interface RunBackupDeps {
  cluster: KotsCluster;
  /** Required for scheduled runs. */
  claims?: SlotClaimStore;
  emit: Emit;
  now: () => Date;
  log?: UseCaseLog;
  /** Waiting between looks for a Backup kotsadm just created (default: timers). */
  sleep?: (ms: number) => Promise<void>;
  /** Called on every phase change while following (progress display). */
  onPhase?: (backup: VeleroBackup) => void;
}

/** The docs/contract.md §2 `backup` result (an `ls` entry without expiry, always dated), plus how this run ended. */
export interface BackupRunResult extends Omit<BackupSummary, "requestedAt" | "expiresAt"> {
  outcome: "started" | "deduplicated";
  slot?: string;
  requestedAt: string;
  deduplicated: boolean;
}

/** A scheduled run that started nothing: skipped (a backup still in progress) or another run holds the slot. */
export interface BackupNotStartedResult {
  outcome: "skipped" | "claimed-elsewhere";
  type: BackupType;
  app?: string;
  trigger: Trigger;
  schedule: string;
  slot: string;
  /** The backup still in progress (skipped), or the one the slot's claim names, if any. */
  backup?: string;
  reason: string;
  deduplicated: boolean;
}

export type RunBackupResult = BackupRunResult | BackupNotStartedResult;

export const DEFAULT_BACKUP_TIMEOUT_MS = 4 * 3_600_000;
/** How many times kotsadm is asked when its answers are lost and no Backup appears. */
export const MAX_BACKUP_REQUESTS = 3;
/** Looks (with backoff) for a Backup kotsadm created, before concluding it did not: ~0.25+0.5+1+2+4 s. */
const FIND_DELAYS_MS = [0, 250, 500, 1_000, 2_000, 4_000];

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Checks the input alone (no I/O): throws InputError naming the field. Run it before connecting. */
export function checkBackupInput(input: RunBackupInput): void {
  const appField = input.fields?.app ?? "--app";
  const typeField = input.fields?.type ?? "--type";
  if (input.type !== "full" && input.type !== "partial") {
    throw new InputError(
      "invalid-backup-type",
      `${typeField}: "${String(input.type)}" is not a backup type`,
      {
        field: typeField,
        fix: "use full or partial",
      },
    );
  }
  if (input.type === "partial" && !input.app) {
    throw new InputError("app-required", `${appField}: a partial backup needs the app's slug`, {
      field: appField,
      fix: `add ${appField} <slug> (kubectl kots get apps lists them), or use a full backup`,
    });
  }
  if (input.type === "full" && input.app) {
    throw new InputError("app-not-allowed", `${appField}: only a partial backup is of one app`, {
      field: appField,
      fix: `add ${typeField} partial, or drop ${appField}`,
    });
  }
  if (input.timeoutMs !== undefined && !(input.timeoutMs > 0)) {
    throw new InputError("invalid-timeout", "--timeout: must be longer than 0", {
      field: "--timeout",
      fix: "give a duration such as 30m or 4h",
    });
  }
  if (input.trigger === "schedule") {
    if (!input.schedule) {
      throw new InputError("schedule-required", "schedule: a scheduled run needs the schedule's name", {
        field: "schedule",
        fix: "pass the schedule name (EventBridge Scheduler sends it in the event)",
      });
    }
    if (!input.slot || Number.isNaN(Date.parse(input.slot))) {
      throw new InputError(
        "invalid-scheduled-time",
        `scheduledTime: "${input.slot ?? ""}" is not an RFC 3339 time`,
        {
          field: "scheduledTime",
          fix: "pass <aws.scheduler.scheduled-time> as scheduledTime",
        },
      );
    }
  }
}

/** Requested time of a Backup (kotsadm's annotation, else creation), in ms; NaN when unknown. */
function requestedAtMs(backup: VeleroBackup): number {
  return Date.parse(requestedAtOf(backup) ?? "");
}

/** Backups of the kind this run makes: instance backups of this kotsadm, or this app's backups (as `ls`). */
function sameKind(cluster: KotsCluster, appId: string | undefined): (b: VeleroBackup) => boolean {
  if (appId === undefined) return (b) => isKotsadmInstanceBackup(b, cluster.kotsadmNamespace);
  const appIds = new Set([appId]);
  return (b) => isAppBackup(b, appIds);
}

export async function runBackup(input: RunBackupInput, deps: RunBackupDeps): Promise<RunBackupResult> {
  checkBackupInput(input);
  if (input.trigger === "schedule" && !deps.claims)
    throw new Error("runBackup: a scheduled run needs the slot claim store");
  const { cluster, now } = deps;
  const log: UseCaseLog = deps.log ?? (() => {});
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const scheduled = input.trigger === "schedule";
  const schedule = input.schedule;
  const slot = input.slot ? iso(new Date(input.slot)) : undefined;
  const key = dedupKey(cluster.name, schedule);
  const emit = async (
    detailType: DetailType,
    detail: Omit<KotsBackupEvent["detail"], "cluster" | "dedupKey">,
  ) => {
    await deps.emit({
      detailType,
      time: iso(now()),
      detail: { cluster: cluster.name, dedupKey: key, ...(schedule ? { schedule } : {}), ...detail },
    });
  };

  // Input that can be checked against the cluster is checked before anything is changed.
  let appId: string | undefined;
  if (input.type === "partial") {
    const apps = await cluster.listApps();
    const app = apps.find((a) => a.slug === input.app);
    const field = input.fields?.app ?? "--app";
    if (!app) {
      throw new InputError(
        "unknown-app",
        `${field}: kotsadm in namespace ${cluster.kotsadmNamespace} has no app "${input.app}" (apps: ${apps.map((a) => a.slug).join(", ") || "none"})`,
        { field, fix: "use one of the listed app slugs (kubectl kots get apps)" },
      );
    }
    appId = app.id;
  }
  const isSameKind = sameKind(cluster, appId);
  const base = {
    type: input.type,
    ...(input.app ? { app: input.app } : {}),
    trigger: input.trigger,
    ...(schedule ? { schedule } : {}),
  };

  // 1. Claim the slot.
  let claim: SlotClaim | undefined;
  if (scheduled && schedule && slot && deps.claims) {
    const record: SlotClaim = { schedule, slot, claimedAt: iso(now()) };
    let won = await deps.claims.claimSlot(schedule, slot, record);
    const existing = won ? undefined : await deps.claims.getClaim(schedule, slot);
    if (existing && isAbandoned(existing, now())) {
      // The run that claimed the slot died before asking kotsadm (or before recording that it did), or
      // its request failed: a retry takes the claim over (one winner), and step 2 below adopts any
      // backup requested in the slot, so kotsadm is still asked at most once per slot.
      won = await deps.claims.takeOverClaim(existing, record);
      if (won)
        log("warn", "took over an abandoned slot claim", { schedule, slot, claimedAt: existing.claimedAt });
    }
    if (!won) {
      log("info", "slot already claimed by another run; not starting a backup", {
        schedule,
        slot,
        backup: existing?.backup,
      });
      if (existing?.backup) {
        const backup = await cluster.getBackup(existing.backup);
        if (backup) return { ...toResult(backup, base, "deduplicated", slot), deduplicated: true };
      }
      return {
        outcome: "claimed-elsewhere",
        ...base,
        schedule,
        slot,
        ...(existing?.backup ? { backup: existing.backup } : {}),
        reason: `slot ${slot} of schedule ${schedule} was already claimed at ${existing?.claimedAt ?? "an unknown time"}${existing?.outcome ? ` (${existing.outcome})` : ""}`,
        deduplicated: true,
      };
    }
    claim = record;
  }
  const record = async (outcome: ClaimOutcome, backup?: string) => {
    if (!claim || !deps.claims) return;
    claim = { ...claim, outcome, ...(backup ? { backup } : {}) };
    await deps.claims.updateClaim(claim);
  };

  try {
    const before = await cluster.listBackups();
    const mine = before.filter(isSameKind);

    if (scheduled && slot && schedule) {
      // 2. A backup of this kind already requested in the slot (a run whose claim record was lost).
      const inSlot = mine
        .filter((b) => requestedWithin(b, new Date(slot), now()))
        .sort((a, b) => requestedAtMs(a) - requestedAtMs(b))[0];
      if (inSlot) {
        log("info", "a backup was already requested in this slot; adopting it", {
          backup: inSlot.metadata.name,
          slot,
        });
        await record(ClaimOutcome.started, inSlot.metadata.name);
        return finish(inSlot, "deduplicated");
      }
      // 3. kotsadm's rule: no scheduled backup while one of the same kind is unfinished.
      const unfinished = mine.find((b) => kotsStatusOf(phaseOf(b)) === KotsStatus.InProgress);
      if (unfinished) {
        const reason = `backup ${unfinished.metadata.name} is still ${phaseOf(unfinished)}`;
        await record(ClaimOutcome.skipped, unfinished.metadata.name);
        await emit(DetailType.backupSkipped, {
          backup: unfinished.metadata.name,
          reasons: ["in-progress"],
          slot,
          message: `Scheduled ${input.type} backup for slot ${slot} skipped: ${reason} (KOTS runs one at a time). If it is stuck, check Velero.`,
        });
        return {
          outcome: "skipped",
          ...base,
          schedule,
          slot,
          backup: unfinished.metadata.name,
          reason,
          deduplicated: false,
        };
      }
    }

    // 4. Ask kotsadm, never blindly twice.
    const known = new Set(before.map((b) => b.metadata.name));
    const created = await requestOnce(input, deps, known, isSameKind, log, sleep);
    await record(ClaimOutcome.started, created.metadata.name);
    await emit(DetailType.backupStarted, {
      backup: created.metadata.name,
      ...(slot ? { slot } : {}),
      message: `${input.type === "full" ? "Full" : `Partial (${input.app})`} backup ${created.metadata.name} started.`,
    });
    return finish(created, "started");
  } catch (error) {
    if (claim && !claim.outcome) {
      await record(ClaimOutcome.error).catch(() => {});
      if (scheduled) {
        await emit(DetailType.backupFailed, {
          reasons: ["request-failed"],
          ...(slot ? { slot } : {}),
          message: `Scheduled ${input.type} backup for slot ${slot} could not be started: ${(error as Error).message}`,
        }).catch(() => {});
      }
    }
    throw error;
  }

  async function finish(backup: VeleroBackup, outcome: "started" | "deduplicated"): Promise<BackupRunResult> {
    const wait = input.wait ?? true;
    let final = backup;
    if (wait) {
      final = await cluster.followBackup(backup.metadata.name, {
        timeoutMs: input.timeoutMs ?? DEFAULT_BACKUP_TIMEOUT_MS,
        onUpdate: (b) => deps.onPhase?.(b),
      });
      await deps.emit(
        backupEndedEvent(
          cluster.name,
          final,
          { ...(schedule ? { schedule } : {}), ...(slot ? { slot } : {}) },
          now(),
        ),
      );
    }
    return toResult(final, base, outcome, slot);
  }
}

function toResult(
  backup: VeleroBackup,
  base: { type: BackupType; app?: string; trigger: Trigger; schedule?: string },
  outcome: "started" | "deduplicated",
  slot: string | undefined,
): BackupRunResult {
  const phase = phaseOf(backup);
  const requested = requestedAtMs(backup);
  const norm = (t: string | undefined) => {
    if (t === undefined) return undefined;
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? t : iso(new Date(ms));
  };
  const startedAt = norm(backup.status?.startTimestamp);
  const completedAt = norm(backup.status?.completionTimestamp);
  return {
    outcome,
    name: backup.metadata.name,
    ...base,
    ...(slot ? { slot } : {}),
    phase,
    status: kotsStatusOf(phase),
    requestedAt: Number.isNaN(requested) ? "" : iso(new Date(requested)),
    ...(startedAt ? { startedAt } : {}),
    ...(completedAt ? { completedAt } : {}),
    errors: backup.status?.errors ?? 0,
    warnings: backup.status?.warnings ?? 0,
    deduplicated: outcome === "deduplicated",
  };
}

/** Whether an error says the backup request's outcome is unknown (the Backup may exist). */
function isUncertain(error: unknown): boolean {
  return Boolean((error as { uncertain?: unknown } | null)?.uncertain);
}

/**
 * Asks kotsadm for the backup and returns the Backup it created. After an uncertain failure the
 * Backups that appeared since the request began are searched before kotsadm is asked again.
 */
async function requestOnce(
  input: RunBackupInput,
  deps: RunBackupDeps,
  known: Set<string>,
  isSameKind: (b: VeleroBackup) => boolean,
  log: UseCaseLog,
  sleep: (ms: number) => Promise<void>,
): Promise<VeleroBackup> {
  const { cluster, now } = deps;
  const request = { type: input.type, ...(input.app ? { app: input.app } : {}) };
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_BACKUP_REQUESTS; attempt++) {
    const startedMs = now().getTime();
    const appeared = async (): Promise<VeleroBackup | undefined> => {
      for (const delay of FIND_DELAYS_MS) {
        if (delay > 0) await sleep(delay);
        const found = (await cluster.listBackups())
          .filter(
            (b) =>
              !known.has(b.metadata.name) &&
              isSameKind(b) &&
              !(requestedAtMs(b) < startedMs - CLOCK_SKEW_TOLERANCE_MS),
          )
          .sort((a, b) => requestedAtMs(a) - requestedAtMs(b))[0];
        if (found) return found;
      }
      return undefined;
    };
    let name: string | undefined;
    try {
      name = (await cluster.requestBackup(request)).name;
    } catch (error) {
      if (!isUncertain(error)) throw error;
      lastError = error;
      log(
        "warn",
        "kotsadm's answer to the backup request was lost; looking for the Backup before asking again",
        {
          attempt,
          reason: (error as Error).message,
        },
      );
      const found = await appeared();
      if (found) {
        log("info", "found the Backup kotsadm created", { backup: found.metadata.name });
        return found;
      }
      continue;
    }
    if (name) {
      for (const delay of FIND_DELAYS_MS) {
        if (delay > 0) await sleep(delay);
        const backup = await cluster.getBackup(name);
        if (backup) return backup;
      }
      throw new EnvironmentError(
        "backup-not-found",
        `kotsadm answered that it created Backup ${name}, but it is not in Velero's namespace`,
        { fix: "check the Velero namespace (cluster.veleroNamespace) and kotsadm's logs" },
      );
    }
    // An app backup: kotsadm's answer carries no name; the Backup is found by its app and request time.
    const found = await appeared();
    if (found) return found;
    throw new EnvironmentError(
      "backup-not-found",
      `kotsadm accepted the ${input.type} backup${input.app ? ` of ${input.app}` : ""}, but no new Backup requested since ${iso(new Date(startedMs))} (± ${CLOCK_SKEW_TOLERANCE_MS / 60_000} min) appeared in Velero's namespace`,
      {
        fix: "check the Velero namespace (cluster.veleroNamespace), kotsadm's logs, and that this machine's clock agrees with the cluster's (NTP)",
      },
    );
  }
  throw new EnvironmentError(
    "backup-request-failed",
    `kotsadm did not answer the backup request ${MAX_BACKUP_REQUESTS} times and no Backup appeared: ${(lastError as Error)?.message ?? "no answer"}`,
    {
      cause: lastError,
      fix: "check the kotsadm pod (kubectl logs -l app=kotsadm) and the port-forward path",
    },
  );
}

/**
 * How long a claim may stay without an outcome before another run may take it over. A live run records
 * its outcome right after kotsadm answers (well within the scheduled function's 120 s timeout), so
 * only a run that died leaves a claim this old without one.
 */
export const CLAIM_LEASE_MS = 3 * 60_000;

function isAbandoned(claim: SlotClaim, now: Date): boolean {
  if (claim.outcome === ClaimOutcome.error) return true;
  return claim.outcome === undefined && now.getTime() - Date.parse(claim.claimedAt) > CLAIM_LEASE_MS;
}

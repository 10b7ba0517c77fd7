// `verify` (docs/contract.md §2): one check per configured schedule, alerts on changes (docs/contract.md §5).
//
//   gather facts (cluster backups + apps, BSL phase, export manifests, claims, silences)
//   → per schedule: read its record → evaluateCheck → nextAlertState → conditional write
//     (lost race: re-read and re-evaluate; the loser emits nothing) → deliver what the write recorded
//   → the contract's verify JSON, plus the figures the metrics adapters publish.
//
// The cluster being unreachable is not an error here: every check gets the reason
// `cluster-unreachable` (down once its grace has passed), with the problem's start persisted in the
// check's record so that grace runs across runs. Same for an Unavailable BSL (`bsl-unavailable`).
//
// Delivery semantics: AT-LEAST-ONCE per channel, one page per incident in practice.
// - A transition's events are written into the record's `outbox` by the same conditional write that
//   records the transition, so exactly one run (the winner) owns them; it delivers at once.
// - Channels that fail (after deliver()'s own retries) stay `pending` and are retried by the next
//   run; channels that succeeded are removed, so a retry never re-sends to them.
// - An entry taken for delivery carries a lease (`takenAt`); a run that dies mid-delivery leaves it,
//   and it is retried once the lease has expired. That retry may repeat a message the dead run had
//   already sent: PagerDuty and EventBridge consumers deduplicate on the dedup key
//   (`kots-backup:<cluster>:<schedule>`; a second trigger on an open alert adds no page, a second
//   resolve is a no-op); Slack may show the line twice. We accept that rather than lose a page.
// - Entries are given up after OUTBOX_MAX_AGE_MS (logged as an error): a page a day late is noise.

import { type CheckWords, nextAlertState } from "../alert-state.ts";
import {
  type BackupSummary,
  BackupType,
  isFutureDated,
  listBackups as summarizeBackups,
} from "../backups.ts";
import {
  type DrillCheckConfig,
  type DrillCheckResult,
  type DrillRun,
  drillDownMessage,
  drillUpMessage,
  evaluateDrill,
} from "../drill.ts";
import { EnvironmentError, isKotsBackupError } from "../errors.ts";
import type { KotsBackupEvent } from "../events.ts";
import {
  backupNameOfManifestKey,
  DRILL_CHECK_NAME,
  MANIFESTS_ROOT,
  parseManifest,
} from "../export-layout.ts";
import { type ExternalCheckResult, externalCheckName } from "../external.ts";
import {
  anyDown,
  type CheckResult,
  type CheckSchedule,
  type ExportRecord,
  evaluateCheck,
  matchesSchedule,
} from "../freshness.ts";
import type { ClusterApp, KotsCluster, ObjectStore } from "../ports.ts";
import type { AlertRecord, Silence, SlotClaim } from "../state.ts";
import { KotsStatus, VeleroPhase } from "../velero.ts";
import { readDrillRuns } from "./drill-runs.ts";
import type { UseCaseLog } from "./ports.ts";
import { readText } from "./stored-json.ts";
import {
  type ExternalFact,
  type ExternalSource,
  evaluateExternalWithRecord,
  externalFigures,
  externalWords,
  observeExternal,
} from "./verify-external.ts";
import {
  type CheckRecord,
  type CheckRecordStore,
  DeliveryFailure,
  describeDeliveryFailure,
  type OutboxEntry,
} from "./verify-state.ts";

/** A run that took an outbox entry and died is presumed dead after this long; the entry is retried. */
export const DELIVERY_LEASE_MS = 10 * 60_000;
/** Outbox entries older than this are dropped (logged): a page that late is noise. */
export const OUTBOX_MAX_AGE_MS = 24 * 3_600_000;
/** Lost conditional writes before a check's evaluation gives up for this run. */
export const MAX_CAS_ATTEMPTS = 10;

/** One check as `verify --json` prints it (docs/contract.md §2), plus the active silence if any. */
export interface VerifyCheck
  extends Pick<
    CheckResult,
    | "name"
    | "state"
    | "reasons"
    | "since"
    | "lastSuccessAt"
    | "lastAttemptAt"
    | "expectedBy"
    | "lastExportAt"
    | "restorePoint"
  > {
  /** RFC 3339 UTC end of an active silence: the check is evaluated but pages nobody. */
  silencedUntil?: string;
  /** Why it was silenced (`silence --reason`), as given. */
  silenceReason?: string;
}

/** `verify --json` (docs/contract.md §2). */
export interface VerifyReport {
  checkedAt: string;
  checks: VerifyCheck[];
}

/** An export as read from `manifests/<name>.json`. */
export interface ExportFact extends ExportRecord {
  bytes?: number;
  objects?: number;
  scope?: string;
}

/** What the cluster, the destination and the state say, read once per run. */
export interface VerifyFacts {
  cluster: string;
  now: Date;
  /** Matched KOTS backups (instance + this kotsadm's app backups), newest first. */
  backups: BackupSummary[];
  exports: ExportFact[];
  claims: SlotClaim[];
  silences: Silence[];
  clusterReachable: boolean;
  /** Redacted reason the cluster could not be read. */
  clusterError?: string;
  /** kotsadm's app list was read (needed to recognise partial backups). */
  appsKnown: boolean;
  /** Velero's default BSL phase (`Available`, `Unavailable`), undefined when unknown. */
  bslPhase?: string;
  /** What each external recovery point's source said (verify-external.ts). */
  external?: ExternalFact[];
  /** The restore drill, when configured: its config and newest recorded run (core/drill.ts). */
  drill?: { config: DrillCheckConfig; newest?: DrillRun };
}

/** Per-schedule figures for the metrics (CloudWatch EMF, Prometheus). */
export interface ScheduleFigures {
  schedule: string;
  state: CheckResult["state"];
  secondsSinceLastSuccess?: number;
  lastBackupDurationSeconds?: number;
  exportBytes?: number;
}

export interface DeliveryOutcome {
  channel: string;
  ok: boolean;
  /** The redacted reason, for logs only. */
  error?: string;
  /** What the outbox stores of a failure: a fixed class and the HTTP status, never the reason's text. */
  failure?: DeliveryFailure;
  status?: number;
}

/** Sends one event to the named channels (all configured channels when `only` is absent). Never throws. */
export type DeliverPort = (event: KotsBackupEvent, only?: readonly string[]) => Promise<DeliveryOutcome[]>;

export interface VerifySources {
  cluster: Pick<KotsCluster, "name" | "kotsadmNamespace" | "listBackups" | "listApps">;
  /** Velero's default BSL phase; a throw is logged and treated as unknown. */
  bslPhase?: () => Promise<string | undefined>;
  /** The export destination, where `manifests/<name>.json` live. */
  destination: ObjectStore;
  claims: () => Promise<SlotClaim[]>;
  silences: () => Promise<Silence[]>;
  /** Parsed manifests by key and etag, kept between runs of a long-lived process (daemon, warm Lambda). */
  manifestCache?: Map<string, { etag: string; fact: ExportFact | undefined }>;
  /** External recovery points watched next to the schedules. */
  external?: ExternalSource;
  /** The restore drill's config (`drill:`), when set: its runs are read from the destination. */
  drill?: DrillCheckConfig;
  log?: UseCaseLog;
}

export interface VerifyDeps extends VerifySources {
  records: CheckRecordStore;
  deliver: DeliverPort;
  /** Names of the configured channels (an outbox entry waits for each of them). */
  channels: readonly string[];
  now: Date;
  logError?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface VerifyTransition {
  schedule: string;
  events: KotsBackupEvent[];
  /** Held back by a silence. */
  suppressed: boolean;
}

export interface VerifyRun {
  report: VerifyReport;
  results: CheckResult[];
  figures: ScheduleFigures[];
  facts: VerifyFacts;
  /** Transitions this run recorded (won the conditional write). */
  transitions: VerifyTransition[];
  /** Every delivery this run made (new events and retries). */
  deliveries: { schedule: string; detailType: string; outcomes: DeliveryOutcome[] }[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Date.parse(text));

function errorText(error: unknown): string {
  if (isKotsBackupError(error)) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// --- facts ---------------------------------------------------------------------------------------

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function readJson(store: ObjectStore, key: string): Promise<unknown> {
  // No bound: readText returns the whole body.
  return JSON.parse((await readText(await store.get(key))) ?? "");
}

/** Manifests read in full per kind of backup (type + app): the newest Completed ones. */
export const MANIFESTS_READ_PER_KIND = 3;

/** A kind of backup (type, and app for partial): what a schedule's backups are. */
export type BackupKind = Pick<CheckSchedule, "type" | "app">;

export interface ReadExportsOptions {
  /** Backups the cluster lists, by name; default none (the cluster is unreachable). */
  listed?: ReadonlyMap<string, BackupSummary>;
  /** Listed backups whose manifest is read and checked in full; others are dated by the listing. */
  read?: ReadonlySet<string>;
  /**
   * The kinds the caller needs the newest export of. Manifests of backups the cluster does not list are
   * read newest first until each kind has a verified Completed one; default: all of them are read.
   */
  kinds?: readonly BackupKind[];
  cache?: Map<string, { etag: string; fact: ExportFact | undefined }>;
  now: Date;
}

const sameKind = (of: { type?: string; app?: string }, kind: BackupKind) =>
  of.type === kind.type && (kind.type === BackupType.full || of.app === kind.app);

/** A Completed backup whose times are credible: what a restore point can be. */
const restorable = (
  of: Pick<BackupSummary, "phase" | "requestedAt" | "startedAt" | "completedAt">,
  now: Date,
) => of.phase === VeleroPhase.Completed && !isFutureDated(of, now);

/**
 * The exports in the destination, from `manifests/<name>.json`: the record of what can be restored,
 * whatever the cluster says. A manifest read in full is checked against the schema: one that does not
 * parse, or names another backup, is an export that did not verify (`export-invalid`); one that parses
 * also gives the backup's kind, phase and times.
 * - Backups the cluster lists: manifests of `options.read` (default: all) are read in full; the others
 *   are taken as verified exports dated by the object's last-modified time (a manifest is written only
 *   after every object verified), which spares reading hundreds of old manifests on every run.
 * - Backups it does not list (gone from the cluster, or the cluster unreachable): their manifest is the
 *   only word on their kind, so they are read in full, newest first (by last-modified time), until each
 *   of `options.kinds` has a verified export of a Completed backup not dated in the future, here or
 *   among the listed backups' newer manifests (all of them without `kinds`).
 */
export async function readExports(
  destination: ObjectStore,
  options: ReadExportsOptions,
): Promise<ExportFact[]> {
  const { cache, read, now } = options;
  const listed = options.listed ?? new Map<string, BackupSummary>();
  const wanted: ManifestItem[] = [];
  const offCluster: ManifestItem[] = [];
  const dated: ExportFact[] = [];
  /** Per kind index, the newest listed manifest of a restorable backup of that kind (ms). */
  const floors = (options.kinds ?? []).map(() => Number.NEGATIVE_INFINITY);
  for await (const info of destination.list(MANIFESTS_ROOT)) {
    const name = backupNameOfManifestKey(info.key);
    if (name === undefined) continue;
    const item: ManifestItem = {
      key: info.key,
      etag: info.etag,
      name,
      ...(info.lastModified ? { lastModified: info.lastModified } : {}),
    };
    const backup = listed.get(name);
    if (backup && info.lastModified && restorable(backup, now)) {
      options.kinds?.forEach((kind, k) => {
        if (sameKind(backup, kind)) floors[k] = Math.max(floors[k] ?? 0, info.lastModified?.getTime() ?? 0);
      });
    }
    if (!backup) offCluster.push(item);
    else if (read && !read.has(name) && info.lastModified)
      dated.push({ backup: name, exportedAt: iso(info.lastModified.getTime()), verified: true });
    else wanted.push(item);
  }
  const readOne = async (item: ManifestItem): Promise<ExportFact | undefined> => {
    const cached = cache?.get(item.key);
    if (cached && cached.etag === item.etag) return cached.fact;
    let fact: ExportFact | undefined;
    try {
      const manifest = parseManifest(await readJson(destination, item.key));
      fact = {
        backup: item.name,
        exportedAt: iso(Date.parse(manifest.exportedAt)),
        verified: manifest.backup === item.name,
        bytes: manifest.totals.bytes,
        objects: manifest.totals.objects,
        scope: manifest.scope,
        type: manifest.type,
        ...(manifest.app !== undefined ? { app: manifest.app } : {}),
        phase: manifest.phase,
        ...(manifest.requestedAt ? { requestedAt: manifest.requestedAt } : {}),
        ...(manifest.startedAt ? { startedAt: manifest.startedAt } : {}),
        ...(manifest.completedAt ? { completedAt: manifest.completedAt } : {}),
      };
    } catch (error) {
      if ((error as { code?: unknown }).code === "object-not-found") return undefined;
      fact = {
        backup: item.name,
        exportedAt: iso(item.lastModified?.getTime() ?? now.getTime()),
        verified: false,
      };
    }
    cache?.set(item.key, { etag: item.etag, fact });
    return fact;
  };
  const facts = await mapLimit(wanted, 8, readOne);
  const offClusterFacts = options.kinds
    ? await readNewest(offCluster, readOne, options.kinds, floors, now)
    : await mapLimit(offCluster, 8, readOne);
  return [...dated, ...facts, ...offClusterFacts].filter((f): f is ExportFact => f !== undefined);
}

interface ManifestItem {
  key: string;
  etag: string;
  name: string;
  lastModified?: Date;
}

/**
 * Manifests read newest first (by last-modified time, in batches that keep equal times together) until
 * each kind has a verified export of a restorable backup, or the rest are older than `floors[kind]`.
 */
async function readNewest(
  items: readonly ManifestItem[],
  readOne: (item: ManifestItem) => Promise<ExportFact | undefined>,
  kinds: readonly BackupKind[],
  floors: readonly number[],
  now: Date,
): Promise<(ExportFact | undefined)[]> {
  const age = (item: ManifestItem | undefined) => item?.lastModified?.getTime() ?? Number.POSITIVE_INFINITY;
  const ordered = [...items].sort((a, b) => age(b) - age(a));
  const found = kinds.map(() => false);
  const out: (ExportFact | undefined)[] = [];
  let i = 0;
  const pending = () => kinds.some((_, k) => !found[k] && age(ordered[i]) >= (floors[k] ?? 0));
  while (i < ordered.length && pending()) {
    let end = Math.min(i + 8, ordered.length);
    while (end < ordered.length && age(ordered[end]) === age(ordered[end - 1])) end++;
    const batch = await mapLimit(ordered.slice(i, end), 8, readOne);
    out.push(...batch);
    for (const fact of batch) {
      if (!fact?.verified || fact.phase === undefined || !restorable({ ...fact, phase: fact.phase }, now))
        continue;
      kinds.forEach((kind, k) => {
        if (sameKind(fact, kind)) found[k] = true;
      });
    }
    i = end;
  }
  return out;
}

/** The newest Completed backups of each kind (type + app), whose manifests verify reads in full. */
function manifestsToRead(backups: readonly BackupSummary[]): Set<string> {
  const perKind = new Map<string, number>();
  const names = new Set<string>();
  for (const b of backups) {
    if (b.status !== KotsStatus.Completed) continue;
    const kind = `${b.type}:${b.app ?? ""}`;
    const n = perKind.get(kind) ?? 0;
    if (n >= MANIFESTS_READ_PER_KIND) continue;
    perKind.set(kind, n + 1);
    names.add(b.name);
  }
  return names;
}

export interface GatherOptions {
  /** Skip listing slot claims (they only date a schedule's first sight and mark triggers). */
  skipClaims?: boolean;
  /** Read every manifest in full (status); default only the newest per kind. */
  readAllManifests?: boolean;
  /** The schedules' kinds: off-cluster manifests are read until each has its newest export. */
  kinds?: readonly BackupKind[];
}

/** Reads everything verify and status need. Cluster problems become facts; destination problems throw. */
export async function gatherFacts(
  sources: VerifySources,
  now: Date,
  options: GatherOptions = {},
): Promise<VerifyFacts> {
  const log: UseCaseLog = sources.log ?? (() => {});
  const { cluster } = sources;
  const external = observeExternal(sources.external, now, log);
  const [claims, silences] = await Promise.all([
    options.skipClaims ? Promise.resolve([] as SlotClaim[]) : sources.claims(),
    sources.silences(),
  ]);

  let clusterReachable = true;
  let clusterError: string | undefined;
  let apps: ClusterApp[] | undefined;
  let raw: Awaited<ReturnType<KotsCluster["listBackups"]>> = [];
  try {
    raw = await cluster.listBackups();
  } catch (error) {
    if (isKotsBackupError(error) && error.exitCode !== 3) throw error;
    clusterReachable = false;
    clusterError = errorText(error);
    log("warn", "the cluster could not be read; every check reports cluster-unreachable", {
      reason: clusterError,
    });
  }
  if (clusterReachable) {
    try {
      apps = await cluster.listApps();
    } catch (error) {
      log("warn", "kotsadm's app list is unavailable; partial schedules report cluster-unreachable", {
        reason: errorText(error),
      });
    }
  }
  let bslPhase: string | undefined;
  if (clusterReachable && sources.bslPhase) {
    try {
      bslPhase = await sources.bslPhase();
    } catch (error) {
      log("warn", "Velero's default BackupStorageLocation could not be read", { reason: errorText(error) });
    }
  }
  const backups = clusterReachable
    ? summarizeBackups(raw, { kotsadmNamespace: cluster.kotsadmNamespace, ...(apps ? { apps } : {}), claims })
    : [];
  const exports = await readExports(sources.destination, {
    listed: new Map(backups.map((b) => [b.name, b])),
    ...(options.readAllManifests ? {} : { read: manifestsToRead(backups) }),
    ...(options.kinds && !options.readAllManifests ? { kinds: options.kinds } : {}),
    ...(sources.manifestCache ? { cache: sources.manifestCache } : {}),
    now,
  });
  const drillRuns = sources.drill ? await readDrillRuns(sources.destination, 1) : [];
  return {
    cluster: cluster.name,
    now,
    backups,
    exports,
    claims,
    silences,
    clusterReachable,
    ...(clusterError ? { clusterError } : {}),
    appsKnown: apps !== undefined,
    ...(bslPhase ? { bslPhase } : {}),
    external: await external,
    ...(sources.drill
      ? { drill: { config: sources.drill, ...(drillRuns[0] ? { newest: drillRuns[0] } : {}) } }
      : {}),
  };
}

// --- evaluation ----------------------------------------------------------------------------------

function earliestClaim(claims: readonly SlotClaim[], schedule: string): number | undefined {
  const times = claims.filter((c) => c.schedule === schedule).map((c) => ms(c.claimedAt));
  const earliest = Math.min(...times.filter((t) => !Number.isNaN(t)));
  return Number.isFinite(earliest) ? earliest : undefined;
}

/** The environment part of a record at `now`: problem starts kept while the problem lasts. */
export function environmentOf(
  facts: VerifyFacts,
  schedule: CheckSchedule,
  previous: CheckRecord | undefined,
): Pick<CheckRecord, "firstSeenAt" | "clusterUnreachableSince" | "bslUnavailableSince"> {
  const nowIso = iso(facts.now.getTime());
  const reachable = facts.clusterReachable && (schedule.type === BackupType.full || facts.appsKnown);
  const bslDown = reachable && facts.bslPhase === "Unavailable";
  const claimed = earliestClaim(facts.claims, schedule.name);
  // A record written without firstSeenAt (older format) was at least seen when its period began.
  const firstSeen =
    previous?.firstSeenAt ??
    iso(
      Math.min(
        claimed ?? Number.POSITIVE_INFINITY,
        ms(previous?.since) || Number.POSITIVE_INFINITY,
        facts.now.getTime(),
      ),
    );
  return {
    firstSeenAt: firstSeen,
    ...(reachable ? {} : { clusterUnreachableSince: previous?.clusterUnreachableSince ?? nowIso }),
    ...(bslDown ? { bslUnavailableSince: previous?.bslUnavailableSince ?? nowIso } : {}),
  };
}

/** One schedule's check at `facts.now`, given its persisted record (pure). */
export function evaluateWithRecord(
  facts: VerifyFacts,
  schedule: CheckSchedule,
  previous: CheckRecord | undefined,
): { check: CheckResult; environment: ReturnType<typeof environmentOf> } {
  const environment = environmentOf(facts, schedule, previous);
  const reachable = environment.clusterUnreachableSince === undefined;
  const check = evaluateCheck(schedule, {
    schedules: [schedule],
    backups: reachable ? facts.backups : [],
    exports: facts.exports,
    claims: facts.claims,
    firstSeenAt: environment.firstSeenAt ? { [schedule.name]: environment.firstSeenAt } : {},
    clusterReachable: reachable,
    ...(environment.clusterUnreachableSince
      ? { clusterUnreachableSince: new Date(environment.clusterUnreachableSince) }
      : {}),
    ...(reachable && facts.bslPhase !== undefined ? { bslAvailable: facts.bslPhase !== "Unavailable" } : {}),
    ...(environment.bslUnavailableSince
      ? { bslUnavailableSince: new Date(environment.bslUnavailableSince) }
      : {}),
    ...(previous?.state === "down"
      ? { incidents: { [schedule.name]: { since: previous.since, reasons: previous.reasons } } }
      : {}),
    now: facts.now,
  });
  return { check, environment };
}

export function activeSilence(facts: VerifyFacts, schedule: string): Silence | undefined {
  return facts.silences.find((s) => s.schedule === schedule && ms(s.until) > facts.now.getTime());
}

/** The figures the metrics publish for one schedule. */
export function figuresOf(facts: VerifyFacts, schedule: CheckSchedule, check: CheckResult): ScheduleFigures {
  const now = facts.now.getTime();
  const figures: ScheduleFigures = { schedule: schedule.name, state: check.state };
  const lastSuccess = ms(check.lastSuccessAt);
  if (!Number.isNaN(lastSuccess))
    figures.secondsSinceLastSuccess = Math.max(0, Math.round((now - lastSuccess) / 1000));
  // A backup dated in the future is reported (`clock-skew`), never measured.
  const matching = facts.backups.filter((b) => matchesSchedule(b, schedule) && !isFutureDated(b, facts.now));
  const finished = matching
    .filter((b) => !Number.isNaN(ms(b.completedAt)) && !Number.isNaN(ms(b.startedAt)))
    .sort((a, b) => ms(b.completedAt) - ms(a.completedAt))[0];
  if (finished)
    figures.lastBackupDurationSeconds = Math.max(
      0,
      Math.round((ms(finished.completedAt) - ms(finished.startedAt)) / 1000),
    );
  const names = new Set(matching.filter((b) => b.status === KotsStatus.Completed).map((b) => b.name));
  const newestExport = facts.exports
    .filter((e) => e.verified && names.has(e.backup) && e.bytes !== undefined)
    .sort((a, b) => ms(b.exportedAt) - ms(a.exportedAt))[0];
  if (newestExport?.bytes !== undefined) figures.exportBytes = newestExport.bytes;
  return figures;
}

function toVerifyCheck(check: CheckResult, silence: Silence | undefined): VerifyCheck {
  const out: VerifyCheck = { name: check.name, state: check.state, reasons: check.reasons };
  for (const key of ["since", "lastSuccessAt", "lastAttemptAt", "expectedBy", "lastExportAt"] as const) {
    const value = check[key];
    if (value !== undefined) out[key] = value;
  }
  if (check.restorePoint) out.restorePoint = check.restorePoint;
  if (silence) out.silencedUntil = silence.until;
  if (silence?.reason) out.silenceReason = silence.reason;
  return out;
}

/** Evaluation without side effects (for `status`): checks as verify would report them now. */
export function evaluateFacts(
  facts: VerifyFacts,
  schedules: readonly CheckSchedule[],
  records: ReadonlyMap<string, CheckRecord | undefined> = new Map(),
): { report: VerifyReport; results: CheckResult[]; figures: ScheduleFigures[] } {
  const scheduled = schedules.map((s) => evaluateWithRecord(facts, s, records.get(s.name)).check);
  const external = (facts.external ?? []).map(
    (f) => evaluateExternalWithRecord(f, facts.now, records.get(externalCheckName(f.point.name))).check,
  );
  const drill = facts.drill ? [evaluateDrillWithRecord(facts, records.get(DRILL_CHECK_NAME)).check] : [];
  const results = [...scheduled, ...external, ...drill];
  return {
    report: {
      checkedAt: iso(facts.now.getTime()),
      checks: results.map((c) => toVerifyCheck(c, activeSilence(facts, c.name))),
    },
    results,
    figures: [
      ...scheduled.map((c, i) => figuresOf(facts, schedules[i] as CheckSchedule, c)),
      ...external.map((c) => externalFigures(c, facts.now)),
      ...drill.map((c) => ({ schedule: c.name, state: c.state })),
    ],
  };
}

// --- the run ---------------------------------------------------------------------------------------

function baseRecord(record: CheckRecord | undefined): AlertRecord | undefined {
  if (!record) return undefined;
  const base: AlertRecord = { state: record.state, since: record.since, reasons: record.reasons };
  if (record.suppressed !== undefined) base.suppressed = record.suppressed;
  if (record.silencedUntil !== undefined) base.silencedUntil = record.silencedUntil;
  return base;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Outbox entries due for a (re)try at `now`: nobody holds them, or the holder's lease expired. */
function isDue(entry: OutboxEntry, now: number): boolean {
  return (
    entry.pending.length > 0 && (entry.takenAt === undefined || ms(entry.takenAt) + DELIVERY_LEASE_MS <= now)
  );
}

interface Decision {
  next: CheckRecord;
  check: CheckResult;
  events: KotsBackupEvent[];
  suppressed: boolean;
  /** Entries this run takes for delivery (new ones and retries). */
  take: OutboxEntry[];
  dropped: OutboxEntry[];
}

/** Pure: the next record of one schedule's check and what this run delivers if its write wins. */
export function decide(
  facts: VerifyFacts,
  schedule: CheckSchedule,
  previous: CheckRecord | undefined,
  channels: readonly string[],
): Decision {
  const { check, environment } = evaluateWithRecord(facts, schedule, previous);
  return decideAlert(facts, { check, environment }, previous, channels);
}

/** Pure: an external recovery point's next record and what this run delivers if its write wins. */
export function decideExternal(
  facts: VerifyFacts,
  fact: ExternalFact,
  previous: CheckRecord | undefined,
  channels: readonly string[],
): Decision {
  const { check, environment } = evaluateExternalWithRecord(fact, facts.now, previous);
  return decideAlert(
    facts,
    { check, environment, words: externalWords(facts.cluster, check) },
    previous,
    channels,
  );
}

/** The drill check at `facts.now`, given its record, and what the record keeps (when it was first seen). */
export function evaluateDrillWithRecord(
  facts: VerifyFacts,
  previous: CheckRecord | undefined,
): { check: DrillCheckResult; environment: Pick<CheckRecord, "firstSeenAt"> } {
  const drill = facts.drill as NonNullable<VerifyFacts["drill"]>;
  const firstSeenAt = previous?.firstSeenAt ?? iso(facts.now.getTime());
  return {
    check: evaluateDrill(drill.config, drill.newest, facts.now, firstSeenAt),
    environment: { firstSeenAt },
  };
}

/** Pure: the drill check's next record and what this run delivers if its write wins. */
export function decideDrill(
  facts: VerifyFacts,
  previous: CheckRecord | undefined,
  channels: readonly string[],
): Decision {
  const { check, environment } = evaluateDrillWithRecord(facts, previous);
  const words: CheckWords = {
    down: (since) => drillDownMessage(facts.cluster, check, since),
    up: (downSince) => drillUpMessage(facts.cluster, check, downSince),
    detail: { drill: check.drill },
  };
  return decideAlert(facts, { check, environment, words }, previous, channels);
}

/** Pure: from an evaluated check, its next record (alert state, outbox) and the events to deliver. */
function decideAlert(
  facts: VerifyFacts,
  evaluated: { check: CheckResult; environment: Partial<CheckRecord>; words?: CheckWords },
  previous: CheckRecord | undefined,
  channels: readonly string[],
): Decision {
  const now = facts.now.getTime();
  const nowIso = iso(now);
  const { check, environment, words } = evaluated;
  const silence = activeSilence(facts, check.name);
  const transition = nextAlertState({
    cluster: facts.cluster,
    check,
    ...(previous ? { previous: baseRecord(previous) as AlertRecord } : {}),
    ...(silence ? { silencedUntil: silence.until } : {}),
    now: facts.now,
    ...(words ? { words } : {}),
  });
  const known = new Set(channels);
  const kept: OutboxEntry[] = [];
  const dropped: OutboxEntry[] = [];
  const take: OutboxEntry[] = [];
  for (const entry of previous?.outbox ?? []) {
    const pending = entry.pending.filter((c) => known.has(c));
    if (pending.length === 0) continue;
    if (ms(entry.event.time) + OUTBOX_MAX_AGE_MS <= now) {
      dropped.push(entry);
      continue;
    }
    const current = { ...entry, pending };
    if (isDue(current, now)) {
      const taken = { ...current, takenAt: nowIso };
      take.push(taken);
      kept.push(taken);
    } else kept.push(current);
  }
  for (const event of channels.length > 0 ? transition.events : []) {
    const entry: OutboxEntry = {
      id: `${event.detailType}@${event.time}`,
      event,
      pending: [...channels],
      attempts: 0,
      takenAt: nowIso,
    };
    take.push(entry);
    kept.push(entry);
  }
  const next: CheckRecord = { ...transition.next, ...environment };
  if (kept.length > 0) next.outbox = kept;
  return { next, check, events: transition.events, suppressed: transition.suppressed, take, dropped };
}

/** Applies a delivery round to the record's outbox: delivered channels leave, failures wait for the next run. */
function applyDeliveries(record: CheckRecord, delivered: Map<string, DeliveryOutcome[]>): CheckRecord {
  const outbox: OutboxEntry[] = [];
  for (const entry of record.outbox ?? []) {
    const outcomes = delivered.get(entry.id);
    if (!outcomes) {
      outbox.push(entry);
      continue;
    }
    // At least once: a channel leaves `pending` only on a confirmed delivery.
    const failed = outcomes.filter((o) => !o.ok);
    const pending = entry.pending.filter((c) => !outcomes.some((o) => o.channel === c && o.ok));
    if (pending.length === 0) continue;
    const lastError = failed
      .map((o) => describeDeliveryFailure(o.channel, o.failure ?? DeliveryFailure.unexpected, o.status))
      .join("; ");
    const { takenAt: _released, ...rest } = entry;
    outbox.push({ ...rest, pending, attempts: entry.attempts + 1, lastError });
  }
  const next: CheckRecord = { ...record };
  if (outbox.length > 0) next.outbox = outbox;
  else delete next.outbox;
  return next;
}

/** One check as verifyOne runs it: its name (its record's key) and its pure decision. */
interface CheckRun {
  name: string;
  decide(previous: CheckRecord | undefined): Decision;
}

async function verifyOne(
  run: CheckRun,
  deps: VerifyDeps,
): Promise<{ check: CheckResult; transition?: VerifyTransition; deliveries: VerifyRun["deliveries"] }> {
  // Logs and transitions name the check as `schedule` (an external point's is `external:<name>`).
  const schedule = { name: run.name };
  const log: UseCaseLog = deps.log ?? (() => {});
  const logError = deps.logError ?? ((message, fields) => log("warn", message, fields));
  let decision: Decision | undefined;
  let etag: string | undefined;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const current = await deps.records.read(schedule.name);
    const candidate = run.decide(current?.value);
    if (current && same(candidate.next, current.value)) {
      return { check: candidate.check, deliveries: [] };
    }
    const written = await deps.records.write(schedule.name, candidate.next, current?.etag);
    if (written.written) {
      decision = candidate;
      etag = written.etag;
      break;
    }
    // Another run recorded something first: re-read and re-evaluate; this attempt emits nothing.
  }
  if (!decision || etag === undefined) {
    throw new EnvironmentError(
      "state-contended",
      `the alert state of ${schedule.name} kept changing under ${MAX_CAS_ATTEMPTS} attempts`,
      { fix: "check that only one kots-backup deployment verifies this destination" },
    );
  }
  for (const entry of decision.dropped) {
    logError(`gave up delivering ${entry.event.detailType} for ${schedule.name}`, {
      schedule: schedule.name,
      event: entry.id,
      pending: entry.pending,
      lastError: entry.lastError,
    });
  }
  const transition: VerifyTransition | undefined =
    decision.events.length > 0 || decision.suppressed
      ? { schedule: schedule.name, events: decision.events, suppressed: decision.suppressed }
      : undefined;
  if (decision.take.length === 0)
    return { check: decision.check, ...(transition ? { transition } : {}), deliveries: [] };

  // Deliver in order, per channel: a channel never gets an event while an earlier one for it is
  // still pending (failed now, or held by another run's lease), so a Check Up never overtakes the
  // Check Down it closes. Held-back channels stay pending for the next run.
  const delivered = new Map<string, DeliveryOutcome[]>();
  const deliveries: VerifyRun["deliveries"] = [];
  const taken = new Set(decision.take.map((e) => e.id));
  const blocked = new Set<string>();
  for (const entry of decision.next.outbox ?? []) {
    if (!taken.has(entry.id)) {
      for (const c of entry.pending) blocked.add(c);
      continue;
    }
    const targets = entry.pending.filter((c) => !blocked.has(c));
    const held = entry.pending.filter((c) => blocked.has(c));
    const outcomes = targets.length > 0 ? await deps.deliver(entry.event, targets) : [];
    delivered.set(entry.id, [
      ...outcomes,
      ...held.map((channel) => ({
        channel,
        ok: false,
        error: "held back until an earlier event reaches this channel",
        failure: DeliveryFailure.heldBack,
      })),
    ]);
    if (outcomes.length > 0)
      deliveries.push({ schedule: schedule.name, detailType: entry.event.detailType, outcomes });
    for (const o of outcomes.filter((x) => !x.ok)) {
      blocked.add(o.channel);
      logError(
        `could not deliver ${entry.event.detailType} for ${schedule.name} to ${o.channel}; the next run retries`,
        { schedule: schedule.name, channel: o.channel, error: o.error },
      );
    }
  }
  // Record what was delivered; on a lost race re-read and apply to the newer record.
  let record = decision.next;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const written = await deps.records.write(schedule.name, applyDeliveries(record, delivered), etag);
    if (written.written) break;
    const current = await deps.records.read(schedule.name);
    if (!current) break;
    record = current.value;
    etag = current.etag;
  }
  return { check: decision.check, ...(transition ? { transition } : {}), deliveries };
}

/** Runs every schedule's check, records transitions, delivers their events. */
export async function runVerify(schedules: readonly CheckSchedule[], deps: VerifyDeps): Promise<VerifyRun> {
  // Claims only matter until each schedule's record remembers when it was first seen.
  const known = await Promise.all(schedules.map((s) => deps.records.read(s.name)));
  const skipClaims = known.every((r) => r?.value.firstSeenAt !== undefined);
  const facts = await gatherFacts(deps, deps.now, { skipClaims, kinds: schedules });
  const runs: CheckRun[] = [
    ...schedules.map((s) => ({
      name: s.name,
      decide: (p?: CheckRecord) => decide(facts, s, p, deps.channels),
    })),
    ...(facts.external ?? []).map((f) => ({
      name: externalCheckName(f.point.name),
      decide: (p?: CheckRecord) => decideExternal(facts, f, p, deps.channels),
    })),
    ...(facts.drill
      ? [{ name: DRILL_CHECK_NAME, decide: (p?: CheckRecord) => decideDrill(facts, p, deps.channels) }]
      : []),
  ];
  const outcomes = await Promise.all(runs.map((r) => verifyOne(r, deps)));
  const results = outcomes.map((o) => o.check);
  return {
    report: {
      checkedAt: iso(deps.now.getTime()),
      checks: results.map((c) => toVerifyCheck(c, activeSilence(facts, c.name))),
    },
    results,
    figures: results.flatMap((c, i) =>
      i < schedules.length
        ? [figuresOf(facts, schedules[i] as CheckSchedule, c)]
        : c.name === DRILL_CHECK_NAME
          ? [{ schedule: c.name, state: c.state }]
          : [externalFigures(c as ExternalCheckResult, facts.now)],
    ),
    facts,
    transitions: outcomes.flatMap((o) => (o.transition ? [o.transition] : [])),
    deliveries: outcomes.flatMap((o) => o.deliveries),
  };
}

/** `verify` exits 1 when any check is down. */
export function verifyExitCode(report: VerifyReport): 0 | 1 {
  return anyDown(report.checks) ? 1 : 0;
}

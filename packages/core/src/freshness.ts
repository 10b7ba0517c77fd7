// Freshness checks (`verify`): one check per schedule, a pure function of the facts and `now`,
// modelled on healthchecks.io's period + grace.
//
// Definitions (all instants UTC; "at" an instant means that instant is included):
// - matching backup: same type as the schedule (and same app for partial), whoever started it:
//   kots-backup, kotsadm's own scheduler or a person. Backups being deleted are ignored.
// - attempt: a matching backup, dated by its request time (`kots.io/snapshot-requested`).
// - future-dated backup: a matching backup whose request, start or completion lies beyond now + the
//   clock-skew allowance (backups.ts). Those times are the cluster's word, not facts: such a backup is
//   no attempt and no success (it would cover every slot until its date), and while one exists the
//   check is down with `clock-skew`.
// - an attempt requested at r covers every slot ≤ r + SLOT_TOLERANCE (clock skew between the cluster
//   and the scheduler); so the newest attempt covers every slot before it.
// - expected slot (`graceStart`): the first slot after max(newest attempt's r + tolerance, firstSeenAt).
//   Slots follow the EventBridge DST rule (schedule.ts). Slots before the schedule was first seen are
//   never expected, and nothing is caught up: a missed slot stays missed until a later attempt.
// - down after (`expectedBy`): expected slot + grace. From that instant on the check is down: `missed`.
// - state: `paused` if paused; else `down` if any reason is active; else `grace` if the expected slot
//   has passed (a backup is due, within grace) or a cluster/BSL problem is within its grace; else `new`
//   if no attempt exists and no slot has come since first seen; else `up`.
// - recovery: an incident about backups (missed, failed, stuck) ends only with a matching backup
//   Completed since the incident began, and, when the schedule exports, its verified export. Until then
//   the check stays down with those reasons, whatever else runs (a replacement still InProgress is no
//   recovery); while the cluster is unreachable only such a backup's verified export can show it.
// - exports and the restore point: the destination is the record of what can be restored. An export
//   counts for a schedule when the cluster lists its backup as a matching one, or, for a backup the
//   cluster does not list (gone, or the cluster unreachable), when its manifest says the same kind.
//   The restore point is the newest Completed backup with a verified export, else the newest Completed
//   backup on the cluster (not exported); never a backup dated in the future (by the cluster or by the
//   times its manifest recorded).
import { type BackupSummary, BackupType, isFutureDated } from "./backups.ts";
import { restoreCommand } from "./runbook.ts";
import { nextSlotAfter } from "./schedule.ts";
import type { SlotClaim } from "./state.ts";
import { isTerminalPhase, KotsStatus, VeleroPhase } from "./velero.ts";

export const CheckState = {
  /** No slot has come since the schedule was first seen, and no backup exists yet. */
  new: "new",
  /** The newest slot is covered, or none is due yet. */
  up: "up",
  /** A slot (or a cluster/BSL problem) is past due but within grace: nobody is paged yet. */
  grace: "grace",
  /** Something is wrong past its grace; `reasons` says what. */
  down: "down",
  /** `paused: true` in the config: not evaluated. */
  paused: "paused",
} as const;
export type CheckState = (typeof CheckState)[keyof typeof CheckState];

export const CheckReason = {
  /** No backup was requested for a slot by the end of its grace. */
  missed: "missed",
  /** The newest attempt ended Failed, PartiallyFailed or FailedValidation (down at once). */
  failed: "failed",
  /** A backup has been running or queued longer than `maxDuration` since it started (or was requested). */
  stuck: "stuck",
  /** The newest successful backup was not exported within `exportGrace` of its completion. */
  exportMissing: "export-missing",
  /** The newest successful backup's export exists but did not verify (down at once). */
  exportInvalid: "export-invalid",
  /** No matching backup ever completed; reported alongside the reason that made the check down. */
  neverSucceeded: "never-succeeded",
  /** Velero's default BackupStorageLocation is Unavailable (down once grace passed). */
  bslUnavailable: "bsl-unavailable",
  /** The cluster could not be reached, so backups are unknown (down once grace passed). */
  clusterUnreachable: "cluster-unreachable",
  /** A matching backup is dated beyond now + the clock-skew allowance; it counts for nothing (down at once). */
  clockSkew: "clock-skew",
  /** External recovery points (external.ts): the source cannot be read (down once grace passed). */
  unreachable: "unreachable",
  /** External: the newest recovery point is not encrypted (down at once). */
  unencrypted: "unencrypted",
  /** External: the data is not protected at all, e.g. S3 versioning off (down at once). */
  unprotected: "unprotected",
  /** Restore drill (drill.ts): the newest drill run had an export a restore could not start from (down at once). */
  drillFailed: "drill-failed",
  /** Restore drill: no drill run since its last slot, by that slot + grace. */
  drillMissed: "drill-missed",
} as const;
export type CheckReason = (typeof CheckReason)[keyof typeof CheckReason];

/** A backup requested up to this long before a slot still covers it (cluster vs scheduler clock skew). */
export const SLOT_TOLERANCE_MS = 60_000;

/** The schedule fields a check needs (a `ScheduleConfig` fits; durations in ms). */
export interface CheckSchedule {
  name: string;
  cron: string;
  timezone?: string;
  type: BackupType;
  app?: string;
  grace: number;
  maxDuration: number;
  export: boolean;
  exportGrace: number;
  paused: boolean;
}

/** An export of one backup, as read from the destination's manifests. */
export interface ExportRecord {
  backup: string;
  /** RFC 3339 UTC: when the manifest was written (the export had verified). */
  exportedAt: string;
  /** False when a later verification found objects missing or changed. */
  verified: boolean;
  /** From a manifest read in full: the backup's kind, phase and times as the cluster gave them. */
  type?: BackupType;
  app?: string;
  phase?: string;
  requestedAt?: string;
  startedAt?: string;
  completedAt?: string;
}

/** The newest backup a person can restore from, and how. */
export interface RestorePoint {
  /** The backup's name: what `kubectl kots restore --from-backup` takes. */
  backup: string;
  /** RFC 3339 UTC, when known. */
  completedAt?: string;
  /** When its export verified; absent when the backup is on the cluster's BSL only. */
  exportedAt?: string;
  /** The restore command, for a full (instance) backup; an app backup is restored from the admin console. */
  restoreCommand?: string;
}

/** An open incident of one check, as its alert record keeps it. */
export interface OpenIncident {
  /** RFC 3339 UTC: when the check went down. */
  since: string;
  reasons: readonly string[];
}

export interface FreshnessInput {
  schedules: readonly CheckSchedule[];
  backups: readonly BackupSummary[];
  exports?: readonly ExportRecord[];
  claims?: readonly SlotClaim[];
  /** When each schedule was first seen (persisted state). Fallback: its earliest claim, else `now`. */
  firstSeenAt?: Readonly<Record<string, string>>;
  /** Velero's default BSL phase is Available; undefined when unknown. */
  bslAvailable?: boolean;
  /** When the BSL was first seen Unavailable in this episode; default `now`. */
  bslUnavailableSince?: Date;
  clusterReachable: boolean;
  /** When the cluster was first found unreachable in this episode; default `now`. */
  clusterUnreachableSince?: Date;
  /** Per schedule, the incident still open in its alert record (recovery, above). */
  incidents?: Readonly<Record<string, OpenIncident>>;
  now: Date;
}

export interface CheckResult {
  name: string;
  state: CheckState;
  reasons: CheckReason[];
  /** RFC 3339 UTC: when the current down or grace period (or, for `new`, the check) began. */
  since?: string;
  lastSuccessAt?: string;
  lastAttemptAt?: string;
  /** RFC 3339 UTC: the next backup must be requested by then, else the check goes down. */
  expectedBy?: string;
  lastExportAt?: string;
  restorePoint?: RestorePoint;
  /** Name of the newest Completed backup (`lastSuccessAt`'s). */
  lastSuccessBackup?: string;
  /** Per active reason, the backup it is about (the failed, stuck, unexported or misdated one). */
  backups?: Partial<Record<CheckReason, string>>;
}

const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Date.parse(text));
const toIso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");

/** A backup counts for a schedule when its type (and app) match; who started it does not matter. */
export function matchesSchedule(
  backup: BackupSummary,
  schedule: Pick<CheckSchedule, "type" | "app">,
): boolean {
  if (backup.status === KotsStatus.Deleting || backup.type !== schedule.type) return false;
  return schedule.type === BackupType.full || backup.app === schedule.app;
}

/** When an attempt was made: its request time, else its start or completion. */
export function attemptTime(backup: BackupSummary): number {
  for (const t of [backup.requestedAt, backup.startedAt, backup.completedAt]) {
    const value = ms(t);
    if (!Number.isNaN(value)) return value;
  }
  return Number.NaN;
}

function firstSeenOf(schedule: CheckSchedule, input: FreshnessInput): number {
  const explicit = ms(input.firstSeenAt?.[schedule.name]);
  if (!Number.isNaN(explicit)) return explicit;
  const claims = (input.claims ?? []).filter((c) => c.schedule === schedule.name).map((c) => ms(c.claimedAt));
  const earliest = Math.min(...claims.filter((t) => !Number.isNaN(t)));
  return Number.isFinite(earliest) ? earliest : input.now.getTime();
}

/**
 * The expected slot: the first slot after both the newest attempt (plus tolerance) and the moment the
 * schedule was first seen. Undefined only for a cron that never fires again.
 */
export function expectedSlot(
  schedule: CheckSchedule,
  newestAttemptAt: number | undefined,
  firstSeenAt: number,
): Date | undefined {
  const coveredUntil =
    newestAttemptAt === undefined ? Number.NEGATIVE_INFINITY : newestAttemptAt + SLOT_TOLERANCE_MS;
  return nextSlotAfter(schedule, new Date(Math.max(coveredUntil, firstSeenAt)));
}

/** The instant the check goes down for `missed`: expected slot + grace (inclusive). */
export function goingDownAfter(schedule: CheckSchedule, slot: Date | undefined): number | undefined {
  return slot === undefined ? undefined : slot.getTime() + schedule.grace;
}

/** A reason, and when it makes a check down. */
export interface Finding {
  reason: CheckReason;
  /** When this finding makes the check down (≤ now: active; > now: pending, the check is in grace). */
  downAt: number;
  /** The backup it is about, when one is. */
  backup?: string;
}

/**
 * The grace rule every check follows, a schedule's and an external recovery point's (external.ts): down
 * since the earliest finding due by `now`; else in grace while a finding is pending; else undefined.
 */
export function judgeFindings(
  findings: readonly Finding[],
  now: number,
): { state: typeof CheckState.down; since: number } | { state: typeof CheckState.grace } | undefined {
  const active = findings.filter((f) => f.downAt <= now);
  if (active.length > 0) return { state: CheckState.down, since: Math.min(...active.map((f) => f.downAt)) };
  return findings.length > 0 ? { state: CheckState.grace } : undefined;
}

function backupFindings(
  schedule: CheckSchedule,
  history: KindHistory,
  now: number,
  downAfter: number | undefined,
): Finding[] {
  const { attempts } = history;
  const findings: Finding[] = [];
  // First: it likely explains the rest (whatever orders backups by date takes it for the newest).
  const skewed = history.futureDated[0];
  if (skewed) findings.push({ reason: CheckReason.clockSkew, downAt: now, backup: skewed.name });
  const newest = attempts[0];
  if (downAfter !== undefined && now >= downAfter)
    findings.push({ reason: CheckReason.missed, downAt: downAfter });
  if (newest && newest.status === KotsStatus.Failed && isTerminalPhase(newest.phase)) {
    const at = ms(newest.completedAt);
    findings.push({
      reason: CheckReason.failed,
      downAt: Number.isNaN(at) ? attemptTime(newest) : at,
      backup: newest.name,
    });
  }
  const stuck = attempts
    .filter((b) => !isTerminalPhase(b.phase))
    .map((b) => {
      const started = ms(b.startedAt);
      return {
        backup: b.name,
        at: (Number.isNaN(started) ? attemptTime(b) : started) + schedule.maxDuration,
      };
    })
    .filter((s) => now >= s.at)
    .sort((a, b) => a.at - b.at)[0];
  if (stuck) findings.push({ reason: CheckReason.stuck, downAt: stuck.at, backup: stuck.backup });
  return findings;
}

function exportFindings(
  schedule: CheckSchedule,
  lastSuccess: BackupSummary | undefined,
  exportsByBackup: ReadonlyMap<string, readonly ExportRecord[]>,
  now: number,
): Finding[] {
  if (!schedule.export || !lastSuccess) return [];
  const records = exportsByBackup.get(lastSuccess.name) ?? [];
  if (records.some((e) => e.verified)) return [];
  const backup = lastSuccess.name;
  if (records.length > 0) {
    return [
      {
        reason: CheckReason.exportInvalid,
        downAt: Math.min(now, ...records.map((e) => ms(e.exportedAt)).filter((t) => !Number.isNaN(t))),
        backup,
      },
    ];
  }
  const due = ms(lastSuccess.completedAt) + schedule.exportGrace;
  return Number.isNaN(due) || now < due ? [] : [{ reason: CheckReason.exportMissing, downAt: due, backup }];
}

function environmentFindings(schedule: CheckSchedule, input: FreshnessInput): Finding[] {
  const now = input.now.getTime();
  if (!input.clusterReachable) {
    const since = input.clusterUnreachableSince?.getTime() ?? now;
    return [{ reason: CheckReason.clusterUnreachable, downAt: since + schedule.grace }];
  }
  if (input.bslAvailable === false) {
    const since = input.bslUnavailableSince?.getTime() ?? now;
    return [{ reason: CheckReason.bslUnavailable, downAt: since + schedule.grace }];
  }
  return [];
}

/** Newest first by `time`, computed once per item: parsing dates inside the comparator dominated a
 * large evaluation (bench/results.md). Stable, so ties keep their order as before. */
function newestFirst<T>(items: T[], time: (item: T) => number): T[] {
  return items
    .map((item) => ({ item, at: time(item) }))
    .sort((a, b) => b.at - a.at)
    .map((entry) => entry.item);
}

/** A verified export of a restorable (Completed) backup of one kind: a restore point candidate. */
interface Restorable {
  backup: string;
  /** ms; NaN when unknown. */
  completedAt: number;
  exportedAt: number;
}

interface KindHistory {
  /** Attempts of one kind (type, app), newest first. */
  attempts: BackupSummary[];
  /** Backups of that kind dated in the future: neither attempts nor successes. */
  futureDated: BackupSummary[];
  /** Their Completed ones, newest completion first. */
  successes: BackupSummary[];
  /** The newest verified export of a backup of this kind (ms), if one exists. */
  lastExportMs?: number;
  /** Verified exports of Completed backups of this kind, newest completion first. */
  restorable: Restorable[];
}

/**
 * What one evaluation computes once and its schedules share: backups sorted per kind, and export
 * records by backup. Per schedule, re-scanning and re-parsing them dominated large evaluations.
 */
interface HistoryMemo {
  kinds: Map<string, KindHistory>;
  exportsByBackup?: Map<string, ExportRecord[]>;
  /** Every backup name the cluster lists, of any kind. */
  listed?: Set<string>;
}

function exportsByBackupOf(input: FreshnessInput, memo: HistoryMemo): Map<string, ExportRecord[]> {
  if (!memo.exportsByBackup) {
    memo.exportsByBackup = new Map();
    for (const record of input.exports ?? []) {
      const list = memo.exportsByBackup.get(record.backup);
      if (list) list.push(record);
      else memo.exportsByBackup.set(record.backup, [record]);
    }
  }
  return memo.exportsByBackup;
}

function historyOf(schedule: CheckSchedule, input: FreshnessInput, memo: HistoryMemo): KindHistory {
  const kind = `${schedule.type}/${schedule.type === BackupType.full ? "" : (schedule.app ?? "")}`;
  let history = memo.kinds.get(kind);
  if (!history) {
    const matching = input.backups.filter((b) => matchesSchedule(b, schedule));
    const futureDated = matching.filter((b) => isFutureDated(b, input.now));
    const skewed = new Set(futureDated);
    const attempts = newestFirst(
      matching.filter((b) => !skewed.has(b) && !Number.isNaN(attemptTime(b))),
      attemptTime,
    );
    const successes = newestFirst(
      attempts.filter((b) => b.status === KotsStatus.Completed && !Number.isNaN(ms(b.completedAt))),
      (b) => ms(b.completedAt),
    );
    memo.listed ??= new Set(input.backups.map((b) => b.name));
    const listed = memo.listed;
    const credible = new Map(matching.filter((b) => !skewed.has(b)).map((b) => [b.name, b]));
    let lastExportMs: number | undefined;
    const restorable: Restorable[] = [];
    for (const record of input.exports ?? []) {
      const at = ms(record.exportedAt);
      if (!record.verified || Number.isNaN(at)) continue;
      // The cluster's word on a backup it lists; the manifest's for one it does not.
      const onCluster = credible.get(record.backup);
      const ofKind = listed.has(record.backup)
        ? onCluster !== undefined
        : record.type === schedule.type &&
          (schedule.type === BackupType.full || record.app === schedule.app) &&
          !isFutureDated(record, input.now);
      if (!ofKind) continue;
      if (lastExportMs === undefined || at > lastExportMs) lastExportMs = at;
      const completed = onCluster
        ? onCluster.status === KotsStatus.Completed
        : record.phase === VeleroPhase.Completed;
      if (completed)
        restorable.push({
          backup: record.backup,
          completedAt: ms(onCluster ? onCluster.completedAt : record.completedAt),
          exportedAt: at,
        });
    }
    history = {
      attempts,
      futureDated,
      successes,
      ...(lastExportMs === undefined ? {} : { lastExportMs }),
      restorable: newestFirst(restorable, (r) =>
        Number.isNaN(r.completedAt) ? r.exportedAt : r.completedAt,
      ),
    };
    memo.kinds.set(kind, history);
  }
  return history;
}

/** The newest exported Completed backup, else the newest Completed one on the cluster. */
function restorePointOf(schedule: CheckSchedule, history: KindHistory): RestorePoint | undefined {
  const exported = history.restorable[0];
  const onCluster = history.successes[0];
  const point: RestorePoint | undefined = exported
    ? {
        backup: exported.backup,
        ...(Number.isNaN(exported.completedAt) ? {} : { completedAt: toIso(exported.completedAt) }),
        exportedAt: toIso(exported.exportedAt),
      }
    : onCluster
      ? { backup: onCluster.name, ...(onCluster.completedAt ? { completedAt: onCluster.completedAt } : {}) }
      : undefined;
  if (point && schedule.type === BackupType.full) point.restoreCommand = restoreCommand(point.backup);
  return point;
}

/** Reasons about backups: their incident ends only with a Completed (and exported) backup. */
const BACKUP_REASONS: ReadonlySet<string> = new Set([
  CheckReason.missed,
  CheckReason.failed,
  CheckReason.stuck,
]);

/** The backup reasons of an open incident that no Completed (and, if required, exported) backup has ended. */
function unrecovered(
  schedule: CheckSchedule,
  incident: OpenIncident | undefined,
  history: KindHistory,
  exportsByBackup: ReadonlyMap<string, readonly ExportRecord[]>,
): CheckReason[] {
  const held = (incident?.reasons ?? []).filter((r): r is CheckReason => BACKUP_REASONS.has(r));
  if (!incident || held.length === 0) return [];
  const since = ms(incident.since);
  const exported = (name: string) => (exportsByBackup.get(name) ?? []).some((e) => e.verified);
  const recovered =
    history.successes.some((b) => ms(b.completedAt) >= since && (!schedule.export || exported(b.name))) ||
    history.restorable.some((r) => r.completedAt >= since);
  return recovered ? [] : held;
}

/** Evaluates one schedule's check. */
export function evaluateCheck(
  schedule: CheckSchedule,
  input: FreshnessInput,
  memo: HistoryMemo = { kinds: new Map() },
): CheckResult {
  const now = input.now.getTime();
  const history = historyOf(schedule, input, memo);
  const { attempts, successes, lastExportMs } = history;
  const lastSuccess = successes[0];
  const result: CheckResult = { name: schedule.name, state: CheckState.up, reasons: [] };
  if (lastSuccess?.completedAt) {
    result.lastSuccessAt = lastSuccess.completedAt;
    result.lastSuccessBackup = lastSuccess.name;
  }
  if (attempts[0]) result.lastAttemptAt = toIso(attemptTime(attempts[0]));
  if (lastExportMs !== undefined) result.lastExportAt = toIso(lastExportMs);
  const restorePoint = restorePointOf(schedule, history);
  if (restorePoint) result.restorePoint = restorePoint;
  if (schedule.paused) return { ...result, state: CheckState.paused };

  const firstSeen = firstSeenOf(schedule, input);
  const newest = attempts[0] ? attemptTime(attempts[0]) : undefined;
  const slot = expectedSlot(schedule, newest, firstSeen);
  const downAfter = goingDownAfter(schedule, slot);
  if (downAfter !== undefined) result.expectedBy = toIso(downAfter);

  // Without the cluster the backups are unknown: only the environment finding is reported.
  const exportsByBackup = exportsByBackupOf(input, memo);
  const findings = [
    ...environmentFindings(schedule, input),
    ...(input.clusterReachable
      ? [
          ...backupFindings(schedule, history, now, downAfter),
          ...exportFindings(schedule, lastSuccess, exportsByBackup, now),
        ]
      : []),
  ];
  const backups: Partial<Record<CheckReason, string>> = {};
  for (const f of findings) if (f.backup !== undefined) backups[f.reason] ??= f.backup;
  const named = Object.keys(backups).length > 0 ? { backups } : {};
  const incident = input.incidents?.[schedule.name];
  const held = unrecovered(schedule, incident, history, exportsByBackup);
  const judged = judgeFindings(findings, now);
  if (judged?.state === CheckState.down || held.length > 0) {
    const reasons = findings.map((f) => f.reason);
    for (const r of held) if (!reasons.includes(r)) reasons.push(r);
    const completedInFuture = history.futureDated.some((b) => b.status === KotsStatus.Completed);
    if (input.clusterReachable && !lastSuccess && !completedInFuture)
      reasons.push(CheckReason.neverSucceeded);
    const starts = judged?.state === CheckState.down ? [judged.since] : [];
    if (held.length > 0 && incident) starts.push(ms(incident.since));
    return {
      ...result,
      ...named,
      state: CheckState.down,
      reasons,
      since: toIso(Math.min(...starts)),
    };
  }
  if (judged?.state === CheckState.grace) {
    const since =
      findings[0]?.reason === CheckReason.clusterUnreachable
        ? input.clusterUnreachableSince
        : input.bslUnavailableSince;
    return {
      ...result,
      ...named,
      state: CheckState.grace,
      reasons: findings.map((f) => f.reason),
      since: toIso(since?.getTime() ?? now),
    };
  }
  if (slot && now >= slot.getTime())
    return { ...result, state: CheckState.grace, since: toIso(slot.getTime()) };
  if (attempts.length === 0) return { ...result, state: CheckState.new, since: toIso(firstSeen) };
  return result;
}

/** Evaluates every configured schedule's check (docs/contract.md §2, `verify`). */
export function evaluateChecks(input: FreshnessInput): CheckResult[] {
  const memo: HistoryMemo = { kinds: new Map() };
  return input.schedules.map((schedule) => evaluateCheck(schedule, input, memo));
}

/** `verify` exits 1 when any check is down. */
export function anyDown(checks: readonly CheckResult[]): boolean {
  return checks.some((c) => c.state === CheckState.down);
}

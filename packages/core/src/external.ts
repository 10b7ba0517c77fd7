// External recovery points: what a KOTS snapshot does not hold (an external database, object storage, a
// registry), watched next to the schedules. Each point is a check with the schedules' states and reasons
// and the same paging; this module is its pure evaluation. Adapters observe (adapters/src/external/).
//
// Definitions (all instants UTC):
// - observation: what one look at the source found: the newest good recovery point's time (an available
//   snapshot, a COMPLETED recovery point, the replica's newest object, the time a command printed), and
//   whether it is encrypted, whether a newer attempt failed, whether the data is unprotected. Times the
//   source supplies beyond now + the clock-skew allowance (backups.ts) are never taken at their word: the
//   adapter leaves them out and says so (`futureDated`).
// - due (`expectedBy`): newest point + period + grace; with no point at all, first seen + period + grace.
//   From that instant on the check is down: `missed` (and `never-succeeded` with no point at all).
// - `unreachable`: the source could not be read (network, access denied, a command that timed out or
//   printed no time). Down once grace has passed since it was first found unreachable (persisted), like
//   `cluster-unreachable`; while unreachable nothing else is known, so nothing else is reported.
// - `failed` (a newer attempt failed), `unencrypted`, `unprotected` and `clock-skew` are down at once.
// - state: `paused` if paused; `down` if any reason is active; `grace` when the newest point is older than
//   the period (or the source is unreachable, within grace); `new` when no point exists yet and the
//   period since first seen has not passed; else `up`.
import type { ExternalKind, ExternalPointConfig } from "./config.ts";
import { CheckReason, type CheckResult, CheckState, type Finding, judgeFindings } from "./freshness.ts";

/** An external check's name in reports, records and dedup keys: `external:<name>`. */
export const EXTERNAL_CHECK_PREFIX = "external:";

export function externalCheckName(name: string): string {
  return `${EXTERNAL_CHECK_PREFIX}${name}`;
}

/** The point's own name from a check name, or undefined for a schedule's check. */
export function externalNameOf(checkName: string): string | undefined {
  return checkName.startsWith(EXTERNAL_CHECK_PREFIX)
    ? checkName.slice(EXTERNAL_CHECK_PREFIX.length)
    : undefined;
}

/** What one look at an external source found (normalized by the adapter of its kind). */
export interface ExternalObservation {
  /** False when the source could not be read; `detail` says why (redacted). */
  reachable: boolean;
  /** RFC 3339 UTC: the newest good recovery point, never later than now + the clock-skew allowance. */
  newestAt?: string;
  /** Its identifier (snapshot id, recovery point ARN, object key), for people. */
  newestId?: string;
  /** Whether the newest good point is encrypted, when the source says. */
  encrypted?: boolean;
  /** A newer attempt than the newest good point failed. */
  failed?: boolean;
  /** The data is not protected at all (S3: versioning off, or no enabled replication rule). */
  unprotected?: boolean;
  /** The source named a recovery point dated beyond now + the clock-skew allowance (left out). */
  futureDated?: boolean;
  /** One line for people: what was found, or why nothing could be. Never a secret. */
  detail: string;
}

/** What an external check remembers between runs. */
export interface ExternalHistory {
  /** RFC 3339 UTC: when verify first saw this point; default `now`. */
  firstSeenAt?: string;
  /** RFC 3339 UTC: when the source was first found unreachable in this episode; default `now`. */
  unreachableSince?: string;
}

/** An external check's result: a schedule's fields plus what the point is. */
export interface ExternalCheckResult extends CheckResult {
  external: { name: string; kind: ExternalKind; app: string; detail: string; newestId?: string };
}

/** The point fields the evaluation needs (an `ExternalPointConfig` fits; durations in ms). */
export type ExternalPoint = Pick<
  ExternalPointConfig,
  "name" | "kind" | "app" | "period" | "grace" | "paused"
> & {
  requireEncryption?: boolean;
};

const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Date.parse(text));
const toIso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");

/** Evaluates one external recovery point at `now`. */
export function evaluateExternal(
  point: ExternalPoint,
  observation: ExternalObservation,
  now: Date,
  history: ExternalHistory = {},
): ExternalCheckResult {
  const at = now.getTime();
  const firstSeen = Number.isNaN(ms(history.firstSeenAt)) ? at : ms(history.firstSeenAt);
  const newest = ms(observation.newestAt);
  const hasNewest = observation.reachable && !Number.isNaN(newest);
  const result: ExternalCheckResult = {
    name: externalCheckName(point.name),
    state: CheckState.up,
    reasons: [],
    external: {
      name: point.name,
      kind: point.kind,
      app: point.app,
      detail: observation.detail,
      ...(hasNewest && observation.newestId ? { newestId: observation.newestId } : {}),
    },
  };
  if (hasNewest) result.lastSuccessAt = toIso(newest);
  if (point.paused) return { ...result, state: CheckState.paused };

  const base = hasNewest ? newest : firstSeen;
  const overdueAt = base + point.period;
  const downAfter = overdueAt + point.grace;
  if (observation.reachable) result.expectedBy = toIso(downAfter);

  const findings: Finding[] = [];
  if (!observation.reachable) {
    const since = Number.isNaN(ms(history.unreachableSince)) ? at : ms(history.unreachableSince);
    findings.push({ reason: CheckReason.unreachable, downAt: since + point.grace });
  } else {
    if (observation.futureDated) findings.push({ reason: CheckReason.clockSkew, downAt: at });
    if (at >= downAfter) findings.push({ reason: CheckReason.missed, downAt: downAfter });
    if (observation.failed) findings.push({ reason: CheckReason.failed, downAt: at });
    if (hasNewest && observation.encrypted === false && point.requireEncryption !== false)
      findings.push({ reason: CheckReason.unencrypted, downAt: at });
    if (observation.unprotected) findings.push({ reason: CheckReason.unprotected, downAt: at });
  }

  // The schedules' grace rule (freshness.ts): down since the earliest due finding, grace while pending.
  const judged = judgeFindings(findings, at);
  if (judged?.state === CheckState.down) {
    const reasons = findings.map((f) => f.reason);
    // Alongside `missed` only: with versioning off or a misdated point, the other reason says it all.
    if (!hasNewest && reasons.includes(CheckReason.missed)) reasons.push(CheckReason.neverSucceeded);
    return { ...result, state: CheckState.down, reasons, since: toIso(judged.since) };
  }
  if (judged?.state === CheckState.grace) {
    const since = Number.isNaN(ms(history.unreachableSince)) ? at : ms(history.unreachableSince);
    return {
      ...result,
      state: CheckState.grace,
      reasons: findings.map((f) => f.reason),
      since: toIso(since),
    };
  }
  if (at >= overdueAt) return { ...result, state: CheckState.grace, since: toIso(overdueAt) };
  if (!hasNewest) return { ...result, state: CheckState.new, since: toIso(firstSeen) };
  return result;
}

const KIND_TEXT: Record<ExternalKind, string> = {
  rds: "RDS snapshots",
  "aws-backup": "AWS Backup recovery points",
  s3: "S3 data",
  command: "Recovery points",
};

/** What each reason means for an external point, as a phrase. */
const EXTERNAL_REASON_TEXT: Partial<Record<CheckReason, string>> = {
  [CheckReason.missed]: "the newest recovery point is older than its period and grace",
  [CheckReason.neverSucceeded]: "no recovery point exists",
  [CheckReason.failed]: "a newer attempt failed",
  [CheckReason.unencrypted]: "the newest recovery point is not encrypted",
  [CheckReason.unprotected]: "the data is not protected (versioning off, or no enabled replication rule)",
  [CheckReason.unreachable]: "the source cannot be read",
  [CheckReason.clockSkew]: "the source dates a recovery point in the future, so it counts for nothing",
};

/** What `reason` means for an external point, as a phrase. */
export function externalReasonText(reason: CheckReason): string {
  return EXTERNAL_REASON_TEXT[reason] ?? reason;
}

/** The next step for an external point's reason: one sentence, per kind. */
export function externalNextStep(kind: ExternalKind, reason: CheckReason): string {
  if (reason === CheckReason.unreachable) {
    return kind === "command"
      ? "Run the command by hand as the daemon's user: it must exit 0 within its timeout and print one ISO time; then run `kots-backup doctor`."
      : "Run `kots-backup doctor`: it names the failing call; check the region, the endpoint and that the role is granted the read actions docs/runbook.md lists for its kind.";
  }
  if (reason === CheckReason.clockSkew)
    return "Compare the source's clock with NTP; a recovery point counts once its date has passed.";
  if (reason === CheckReason.unencrypted)
    return "Restore the data into an encrypted instance or cluster (copy the snapshot with a KMS key), or set requireEncryption: false if plain snapshots are intended.";
  if (reason === CheckReason.unprotected)
    return "Turn S3 versioning on (`aws s3api put-bucket-versioning --versioning-configuration Status=Enabled`) and enable a replication rule, or watch a replica with `replica:`.";
  switch (kind) {
    case "rds":
      return "Check the instance's automated backups (`aws rds describe-db-instances` BackupRetentionPeriod > 0, the backup window) and take a manual snapshot now (`aws rds create-db-snapshot`).";
    case "aws-backup":
      return "Check the backup plan and its latest jobs (`aws backup list-backup-jobs --by-resource-arn …`), then start one now (`aws backup start-backup-job`).";
    case "s3":
      return "Check the replication rule's status and its failed operations (S3 replication metrics), and that the app still writes under the replica's prefix.";
    case "command":
      return "Check the job that makes this recovery point (its cron, its logs) and run it now.";
  }
}

/** `<id> at <time>`, or `none (<what the source said>)`. */
function newest(check: ExternalCheckResult): string {
  const { newestId, detail } = check.external;
  if (!check.lastSuccessAt) return `none (${detail})`;
  return newestId ? `${newestId} at ${check.lastSuccessAt}` : check.lastSuccessAt;
}

/** `Check Down` text of an external point: what, since when, the newest point, the next step. */
export function externalDownMessage(cluster: string, check: ExternalCheckResult, since: string): string {
  const { name, kind, app } = check.external;
  const reasons = check.reasons.length > 0 ? check.reasons : [CheckReason.missed];
  const what = reasons.map(externalReasonText).join("; ");
  const first = reasons.find((r) => r !== CheckReason.neverSucceeded) ?? CheckReason.missed;
  return (
    `${KIND_TEXT[kind]} of ${name} (app ${app}) on cluster ${cluster} are down since ${since}: ${what}. ` +
    `Newest recovery point: ${newest(check)}. ` +
    `Next: ${externalNextStep(kind, first)}`
  );
}

export function externalUpMessage(cluster: string, check: ExternalCheckResult, downSince: string): string {
  const { name, kind, app } = check.external;
  return (
    `${KIND_TEXT[kind]} of ${name} (app ${app}) on cluster ${cluster} are ${check.state === CheckState.paused ? "paused" : "up"} again ` +
    `(down since ${downSince}). Newest recovery point: ${newest(check)}.`
  );
}

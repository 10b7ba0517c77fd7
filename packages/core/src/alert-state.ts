// The alert state machine: from the persisted state of a check and its new evaluation, the next
// persisted state and the events to emit. An incident is one continuous down period:
// - `Check Down` once when it starts; a change of reasons while down does not page again;
// - `Check Up` once when it ends; no reminders (escalation belongs to the paging service);
// - while silenced, state still moves but nothing is sent; the record is marked `suppressed`. When the
//   silence ends and the check is still down, `Check Down` is sent then (the incident was never announced);
//   if it recovered while silenced, nothing is sent at all.
// - a `Check Up` that closes an incident already announced is sent even under a silence: it pages nobody,
//   and holding it back would leave the incident open in the paging service.
// - `paused` and every non-down state count as up here: pausing a schedule closes its incident.
// The caller persists `next` with a conditional write and emits only if that write won (healthchecks' flip).

import { DetailType, dedupKey, type KotsBackupEvent } from "./events.ts";
import { CheckReason, type CheckResult, CheckState } from "./freshness.ts";
import { nextStep, shellArg } from "./runbook.ts";
import type { AlertRecord } from "./state.ts";

export interface AlertTransitionInput {
  cluster: string;
  check: CheckResult;
  /** Undefined on the first evaluation: taken as up since `now`. */
  previous?: AlertRecord;
  /** RFC 3339 UTC end of an active silence, if any. */
  silencedUntil?: string;
  now: Date;
  /** How a check other than a schedule's speaks (an external recovery point): its messages and detail. */
  words?: CheckWords;
}

/** The messages and extra event detail of a check that is not a schedule's. */
export interface CheckWords {
  down(since: string): string;
  up(downSince: string): string;
  detail?: Readonly<Record<string, unknown>>;
}

export interface AlertTransition {
  next: AlertRecord;
  events: KotsBackupEvent[];
  /** True when a Check Down was held back by a silence in this evaluation. */
  suppressed: boolean;
}

const REASON_TEXT: Record<CheckReason, string> = {
  [CheckReason.missed]: "no backup was requested for a scheduled slot",
  [CheckReason.failed]: "the last backup failed",
  [CheckReason.stuck]: "a backup has been running or queued longer than maxDuration",
  [CheckReason.exportMissing]: "the last good backup was not exported in time",
  [CheckReason.exportInvalid]: "the export of the last good backup did not verify",
  [CheckReason.neverSucceeded]: "no backup of this kind has ever succeeded",
  [CheckReason.bslUnavailable]: "Velero's backup storage location is Unavailable",
  [CheckReason.clusterUnreachable]: "the cluster cannot be reached, so backups cannot be checked",
  [CheckReason.clockSkew]:
    "a backup is dated in the future (the cluster's clock, or an edited annotation), so it counts for nothing",
  // External recovery points speak through their own words (external.ts).
  [CheckReason.unreachable]: "the source of a recovery point cannot be read",
  [CheckReason.unencrypted]: "the newest recovery point is not encrypted",
  [CheckReason.unprotected]: "the data is not protected",
  // The restore drill speaks through its own words (drill.ts).
  [CheckReason.drillFailed]: "the newest restore drill failed",
  [CheckReason.drillMissed]: "no restore drill ran since its last slot",
};

function isActive(silencedUntil: string | undefined, now: Date): boolean {
  return silencedUntil !== undefined && Date.parse(silencedUntil) > now.getTime();
}

/** `instance-abc12 at 2026-…Z`, the time alone, or `none`; the name shell-quoted unless a Kubernetes name. */
function lastGood(check: CheckResult): string {
  const at = check.lastSuccessAt;
  if (check.lastSuccessBackup === undefined) return at ?? "none";
  return `${shellArg(check.lastSuccessBackup)}${at ? ` at ${at}` : ""}`;
}

/** What is wrong, since when, the last good backup and export, and the next step with the names in it. */
export function downMessage(cluster: string, check: CheckResult, since: string): string {
  const reasons = check.reasons.length > 0 ? check.reasons : [CheckReason.missed];
  const what = reasons.map((r) => REASON_TEXT[r]).join("; ");
  const first = reasons.find((r) => r !== CheckReason.neverSucceeded) ?? reasons[0] ?? CheckReason.missed;
  const backup = check.backups?.[first];
  const step = nextStep(first, { schedule: check.name, ...(backup !== undefined ? { backup } : {}) });
  return (
    `Backups of schedule ${check.name} on cluster ${cluster} are down since ${since}: ${what}. ` +
    `Last good backup: ${lastGood(check)}; last export: ${check.lastExportAt ?? "none"}.` +
    (step ? ` Next: ${step}` : "")
  );
}

export function upMessage(cluster: string, check: CheckResult, downSince: string): string {
  return (
    `Backups of schedule ${check.name} on cluster ${cluster} are ${check.state === CheckState.paused ? "paused" : "up"} again ` +
    `(down since ${downSince}). Last good backup: ${lastGood(check)}; last export: ${check.lastExportAt ?? "none"}.`
  );
}

function event(
  detailType: DetailType,
  cluster: string,
  check: CheckResult,
  since: string,
  message: string,
  now: Date,
  extra: Readonly<Record<string, unknown>> = {},
): KotsBackupEvent {
  return {
    detailType,
    time: now.toISOString(),
    detail: {
      cluster,
      schedule: check.name,
      reasons: check.reasons,
      since,
      dedupKey: dedupKey(cluster, check.name),
      message,
      state: check.state,
      ...extra,
      ...(check.lastSuccessAt ? { lastSuccessAt: check.lastSuccessAt } : {}),
      ...(check.lastSuccessBackup ? { lastBackup: check.lastSuccessBackup } : {}),
      ...(check.lastExportAt ? { lastExportAt: check.lastExportAt } : {}),
      ...(check.expectedBy ? { expectedBy: check.expectedBy } : {}),
      // The backups the reasons are about: `backup` for the first, `backups` per reason.
      ...(detailType === DetailType.checkDown ? namedBackups(check) : {}),
      ...(check.restorePoint ? { restorePoint: check.restorePoint } : {}),
    },
  };
}

function namedBackups(check: CheckResult): {
  backup?: string;
  backups?: Partial<Record<CheckReason, string>>;
} {
  const backups = check.backups;
  if (!backups) return {};
  const backup = check.reasons.map((r) => backups[r]).find((b) => b !== undefined);
  return { ...(backup !== undefined ? { backup } : {}), backups };
}

/** The next persisted state of one check and the events to emit (at most one). */
export function nextAlertState(input: AlertTransitionInput): AlertTransition {
  const { cluster, check, now } = input;
  const nowIso = now.toISOString();
  const previous: AlertRecord = input.previous ?? { state: "up", since: nowIso, reasons: [] };
  const silenced = isActive(input.silencedUntil, now);
  const silence = silenced && input.silencedUntil ? { silencedUntil: input.silencedUntil } : {};
  const isDown = check.state === CheckState.down;

  if (!isDown) {
    const next: AlertRecord =
      previous.state === "up" ? { ...previous, reasons: [] } : { state: "up", since: nowIso, reasons: [] };
    delete next.suppressed;
    delete next.silencedUntil;
    const announced = previous.state === "down" && !previous.suppressed;
    const events = announced
      ? [
          event(
            DetailType.checkUp,
            cluster,
            check,
            previous.since,
            input.words ? input.words.up(previous.since) : upMessage(cluster, check, previous.since),
            now,
            input.words?.detail,
          ),
        ]
      : [];
    return { next, events, suppressed: false };
  }

  // Down: a new incident starts unless one is already open; its start instant never moves.
  const since = previous.state === "down" ? previous.since : (check.since ?? nowIso);
  const needsAnnouncing = previous.state === "up" || previous.suppressed === true;
  const next: AlertRecord = { state: "down", since, reasons: [...check.reasons], ...silence };
  if (needsAnnouncing && silenced)
    return { next: { ...next, suppressed: true }, events: [], suppressed: true };
  const events = needsAnnouncing
    ? [
        event(
          DetailType.checkDown,
          cluster,
          check,
          since,
          input.words ? input.words.down(since) : downMessage(cluster, check, since),
          now,
          input.words?.detail,
        ),
      ]
    : [];
  return { next, events, suppressed: false };
}

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

const REASON_TEXT: Record<CheckReason, { what: string; next: string }> = {
  [CheckReason.missed]: {
    what: "no backup was requested for a scheduled slot",
    next: "check that the schedule runs (kots-backup daemon, or the EventBridge schedule and its function's logs), then take one now with `kots-backup backup`",
  },
  [CheckReason.failed]: {
    what: "the last backup failed",
    next: "read its errors with `kubectl kots get backups` and `velero backup logs <name>`, fix the cause and run `kots-backup backup`",
  },
  [CheckReason.stuck]: {
    what: "a backup has been running or queued longer than maxDuration",
    next: "check the Velero and node-agent pods; a stuck backup holds every later one in the queue",
  },
  [CheckReason.exportMissing]: {
    what: "the last good backup was not exported in time",
    next: "run `kots-backup export --latest` and check the destination with `kots-backup doctor`",
  },
  [CheckReason.exportInvalid]: {
    what: "the export of the last good backup did not verify",
    next: "run `kots-backup export <backup>` again and check the destination with `kots-backup doctor`",
  },
  [CheckReason.neverSucceeded]: {
    what: "no backup of this kind has ever succeeded",
    next: "run `kots-backup backup` and `kots-backup doctor`",
  },
  [CheckReason.bslUnavailable]: {
    what: "Velero's backup storage location is Unavailable",
    next: "check it with `velero backup-location get` and the Velero pod's logs",
  },
  [CheckReason.clusterUnreachable]: {
    what: "the cluster cannot be reached, so backups cannot be checked",
    next: "run `kots-backup doctor` to see which connection step fails",
  },
  [CheckReason.clockSkew]: {
    what: "a backup is dated in the future (the cluster's clock, or an edited annotation), so it counts for nothing",
    next: "compare the dates in `kots-backup ls` with the cluster nodes' clocks (NTP); once the clocks agree, delete the misdated backup (`velero backup delete <name>`) or wait for its date",
  },
  // External recovery points speak through their own words (external.ts).
  [CheckReason.unreachable]: {
    what: "the source of a recovery point cannot be read",
    next: "run `kots-backup doctor`",
  },
  [CheckReason.unencrypted]: {
    what: "the newest recovery point is not encrypted",
    next: "restore it into an encrypted resource",
  },
  [CheckReason.unprotected]: {
    what: "the data is not protected",
    next: "turn versioning and replication on",
  },
};

function isActive(silencedUntil: string | undefined, now: Date): boolean {
  return silencedUntil !== undefined && Date.parse(silencedUntil) > now.getTime();
}

/** What is wrong, since when, the last good backup and export, and the next step. */
export function downMessage(cluster: string, check: CheckResult, since: string): string {
  const reasons = check.reasons.length > 0 ? check.reasons : [CheckReason.missed];
  const what = reasons.map((r) => REASON_TEXT[r].what).join("; ");
  const first = reasons.find((r) => r !== CheckReason.neverSucceeded) ?? reasons[0] ?? CheckReason.missed;
  return (
    `Backups of schedule ${check.name} on cluster ${cluster} are down since ${since}: ${what}. ` +
    `Last good backup: ${check.lastSuccessAt ?? "none"}; last export: ${check.lastExportAt ?? "none"}. ` +
    `Next: ${REASON_TEXT[first].next}.`
  );
}

export function upMessage(cluster: string, check: CheckResult, downSince: string): string {
  return (
    `Backups of schedule ${check.name} on cluster ${cluster} are ${check.state === CheckState.paused ? "paused" : "up"} again ` +
    `(down since ${downSince}). Last good backup: ${check.lastSuccessAt ?? "none"}; last export: ${check.lastExportAt ?? "none"}.`
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
      ...(check.lastExportAt ? { lastExportAt: check.lastExportAt } : {}),
      ...(check.expectedBy ? { expectedBy: check.expectedBy } : {}),
    },
  };
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

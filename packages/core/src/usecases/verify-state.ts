// The per-check record `verify` persists at `state/alerts/<schedule>.json`, or for an external recovery
// point `state/alerts/external/<name>.json` (keys from export-layout.ts):
// the alert state of alert-state.ts (`AlertRecord`), plus what verify must remember between runs:
// - `firstSeenAt`: slots before it are never expected (freshness.ts);
// - `clusterUnreachableSince` / `bslUnavailableSince`: start of an environment problem, so that its
//   grace runs across runs (each run sees only "unreachable now");
// - `outbox`: Check Down / Check Up events recorded by the winning conditional write and not yet
//   delivered to every channel (at-least-once delivery, see verify.ts).
// Writes are conditional on the version read (S3 `If-Match` on the ETag, create-only when absent), so
// of several concurrent runs exactly one records a transition.
import type { KotsBackupEvent } from "../events.ts";
import { checkRecordKey } from "../export-layout.ts";
import type { ObjectStore } from "../ports.ts";
import type { AlertRecord } from "../state.ts";
import { hasOnly, readVersionedJson, type Versioned, type WriteResult, writeJsonIf } from "./stored-json.ts";

/**
 * Why a delivery failed, as far as it is ever stored: a fixed word, never a peer's answer (an error
 * body can quote the request, credentials included). The full, redacted reason goes to the logs only.
 */
export const DeliveryFailure = {
  /** The attempt ran out of time (or the peer answered 408). */
  timeout: "timeout",
  /** No answer: connection refused or reset, DNS failure. */
  connection: "connection",
  /** 429, or the service's throttling error. */
  throttled: "throttled",
  /** 5xx. */
  serverError: "server-error",
  /** Another 4xx, or the service refused the request (access denied, no such topic). */
  rejected: "rejected",
  /** A 2xx that did not say the event was taken (PagerDuty without `status: success`). */
  badAnswer: "bad-answer",
  /** Never sent: an invalid URL, a redirect refused, no credentials. */
  notSent: "not-sent",
  /** Waiting for an earlier event to reach this channel first. */
  heldBack: "held-back",
  /** Anything else (a bug). */
  unexpected: "unexpected",
} as const;
export type DeliveryFailure = (typeof DeliveryFailure)[keyof typeof DeliveryFailure];

/** A channel's failed delivery as an outbox stores it: `slack: server-error (HTTP 503)`. */
export function describeDeliveryFailure(channel: string, failure: DeliveryFailure, status?: number): string {
  return `${channel}: ${failure}${status === undefined ? "" : ` (HTTP ${status})`}`;
}

/** An event recorded with a transition, and the channels it has not reached yet. */
export interface OutboxEntry {
  /** Unique per event: `<detail-type>@<event time>`. */
  id: string;
  event: KotsBackupEvent;
  /** Channel names still to deliver to. */
  pending: string[];
  /** Delivery rounds made so far. */
  attempts: number;
  /** RFC 3339 UTC: when a run took the entry for delivery (a lease; see DELIVERY_LEASE_MS). */
  takenAt?: string;
  /** The last round's failures, one {@link describeDeliveryFailure} per channel, `; `-separated. */
  lastError?: string;
}

export interface CheckRecord extends AlertRecord {
  /** RFC 3339 UTC: when verify first saw this schedule. */
  firstSeenAt?: string;
  clusterUnreachableSince?: string;
  bslUnavailableSince?: string;
  /** An external recovery point's source: when it was first found unreachable in this episode. */
  unreachableSince?: string;
  outbox?: OutboxEntry[];
}

export type VersionedRecord = Versioned<CheckRecord>;

export type RecordWrite = WriteResult;

/** Conditional storage of check records. */
export interface CheckRecordStore {
  read(schedule: string): Promise<VersionedRecord | undefined>;
  /** `etag` undefined: create only. `written: false`: someone else wrote first; re-read. */
  write(schedule: string, record: CheckRecord, etag: string | undefined): Promise<RecordWrite>;
}

const MAX_RECORD_BYTES = 256 * 1024;

const isTime = (v: unknown) => typeof v === "string" && !Number.isNaN(Date.parse(v));

/** Shape check of a stored record (unknown fields are refused, as in the state store). */
export function isCheckRecord(value: unknown): value is CheckRecord {
  return hasOnly(
    value,
    {
      state: (v) => v === "up" || v === "down",
      since: isTime,
      reasons: (v) => Array.isArray(v) && v.every((x) => typeof x === "string"),
    },
    {
      suppressed: (v) => typeof v === "boolean",
      silencedUntil: isTime,
      firstSeenAt: isTime,
      clusterUnreachableSince: isTime,
      bslUnavailableSince: isTime,
      unreachableSince: isTime,
      outbox: (v) => Array.isArray(v) && v.every(isOutboxEntry),
    },
  );
}

function isOutboxEntry(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  const event = e.event as Record<string, unknown> | undefined;
  return (
    typeof e.id === "string" &&
    typeof event === "object" &&
    event !== null &&
    typeof event.detailType === "string" &&
    typeof event.detail === "object" &&
    Array.isArray(e.pending) &&
    e.pending.every((p) => typeof p === "string") &&
    typeof e.attempts === "number" &&
    (e.takenAt === undefined || isTime(e.takenAt)) &&
    (e.lastError === undefined || typeof e.lastError === "string")
  );
}

const READ_OPTIONS = {
  maxBytes: MAX_RECORD_BYTES,
  fix: (key: string) =>
    `inspect ${key}; delete it to let the check start afresh as up (an open incident is then forgotten)`,
};

/** Check records on any ObjectStore (S3, local folder, memory). */
export function checkRecordStore(store: ObjectStore): CheckRecordStore {
  return {
    read: (check) => readVersionedJson(store, checkRecordKey(check), isCheckRecord, READ_OPTIONS),
    write: (check, record, etag) => writeJsonIf(store, checkRecordKey(check), record, etag),
  };
}

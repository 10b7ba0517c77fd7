// The per-check record `verify` persists at `state/alerts/<schedule>.json` (key from export-layout.ts):
// the alert state of alert-state.ts (`AlertRecord`), plus what verify must remember between runs:
// - `firstSeenAt`: slots before it are never expected (freshness.ts);
// - `clusterUnreachableSince` / `bslUnavailableSince`: start of an environment problem, so that its
//   grace runs across runs (each run sees only "unreachable now");
// - `outbox`: Check Down / Check Up events recorded by the winning conditional write and not yet
//   delivered to every channel (at-least-once delivery, see verify.ts).
// Writes are conditional on the version read (S3 `If-Match` on the ETag, create-only when absent), so
// of several concurrent runs exactly one records a transition.
//
// NOTE: adapters/src/state's StateStore reads the same key with a strict shape that does not know
// these optional fields yet; verify and status read and write the record through this module.
import { EnvironmentError } from "../errors.ts";
import type { KotsBackupEvent } from "../events.ts";
import { alertStateKey } from "../export-layout.ts";
import type { ObjectStore } from "../ports.ts";
import type { AlertRecord } from "../state.ts";

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
  /** Redacted reason of the last failure. */
  lastError?: string;
}

export interface CheckRecord extends AlertRecord {
  /** RFC 3339 UTC: when verify first saw this schedule. */
  firstSeenAt?: string;
  clusterUnreachableSince?: string;
  bslUnavailableSince?: string;
  outbox?: OutboxEntry[];
}

export interface VersionedRecord {
  value: CheckRecord;
  etag: string;
}

export type RecordWrite = { written: true; etag: string } | { written: false };

/** Conditional storage of check records. */
export interface CheckRecordStore {
  read(schedule: string): Promise<VersionedRecord | undefined>;
  /** `etag` undefined: create only. `written: false`: someone else wrote first; re-read. */
  write(schedule: string, record: CheckRecord, etag: string | undefined): Promise<RecordWrite>;
}

const MAX_RECORD_BYTES = 256 * 1024;

/** True for the store's "conditional write lost" error (PreconditionFailedError in the adapters). */
function isPreconditionFailed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "precondition-failed";
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "object-not-found";
}

const isTime = (v: unknown) => typeof v === "string" && !Number.isNaN(Date.parse(v));

/** Shape check of a stored record (unknown fields are refused, as in the state store). */
export function isCheckRecord(value: unknown): value is CheckRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  if (r.state !== "up" && r.state !== "down") return false;
  if (!isTime(r.since)) return false;
  if (!Array.isArray(r.reasons) || !r.reasons.every((x) => typeof x === "string")) return false;
  const optional: Record<string, (v: unknown) => boolean> = {
    suppressed: (v) => typeof v === "boolean",
    silencedUntil: isTime,
    firstSeenAt: isTime,
    clusterUnreachableSince: isTime,
    bslUnavailableSince: isTime,
    outbox: (v) => Array.isArray(v) && v.every(isOutboxEntry),
  };
  for (const key of Object.keys(r)) {
    if (key === "state" || key === "since" || key === "reasons") continue;
    if (!optional[key]?.(r[key])) return false;
  }
  return true;
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

async function readText(stream: AsyncIterable<unknown>): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_RECORD_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function corrupt(store: ObjectStore, key: string, why: string): EnvironmentError {
  return new EnvironmentError(
    "state-corrupt",
    `kots-backup state ${key} in ${store.location} is corrupt: ${why}`,
    {
      fix: `inspect ${key}; delete it to let the check start afresh as up (an open incident is then forgotten)`,
    },
  );
}

/** Check records on any ObjectStore (S3, local folder, memory). */
export function checkRecordStore(store: ObjectStore): CheckRecordStore {
  return {
    async read(schedule) {
      const key = alertStateKey(schedule);
      // head → get → head: the etag returned is the one of the body returned.
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = await store.head(key);
        if (!before) return undefined;
        if (before.size > MAX_RECORD_BYTES) throw corrupt(store, key, `it is ${before.size} bytes`);
        let text: string | undefined;
        try {
          text = await readText(await store.get(key));
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
        const after = await store.head(key);
        if (after?.etag !== before.etag) continue;
        if (text === undefined) throw corrupt(store, key, "it is too large");
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          throw corrupt(store, key, "it is not valid JSON");
        }
        if (!isCheckRecord(value)) throw corrupt(store, key, "its fields do not match the expected shape");
        return { value, etag: before.etag };
      }
      throw new EnvironmentError("state-unstable", `${key} in ${store.location} changed on every read`, {
        fix: "retry; if it persists, check what else writes kots-backup's state/ objects",
      });
    },
    async write(schedule, record, etag) {
      const key = alertStateKey(schedule);
      try {
        const info = await store.put(key, `${JSON.stringify(record, null, 2)}\n`, {
          ...(etag === undefined ? { ifNoneMatch: true } : { ifMatch: etag }),
          contentType: "application/json",
        });
        return { written: true, etag: info.etag };
      } catch (error) {
        if (isPreconditionFailed(error)) return { written: false };
        throw error;
      }
    },
  };
}

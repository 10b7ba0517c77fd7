// kots-backup's own JSON records on any ObjectStore (the `state/…` objects): bounded reads, a versioned
// read whose etag is the one of the body returned, conditional writes, and the strict shape check
// (unknown fields refused). Used by the state store (adapters/src/state: slot claims, silences) and by
// verify's check records (verify-state.ts). Corrupt records are an EnvironmentError naming the key and
// how to recover, never silently replaced.
import { EnvironmentError } from "../errors.ts";
import type { ObjectStore } from "../ports.ts";

export interface Versioned<T> {
  value: T;
  /** Pass back to the conditional write to replace exactly this version. */
  etag: string;
}

/** Outcome of a conditional write: `written: false` means another writer got there first: re-read. */
export type WriteResult = { written: true; etag: string } | { written: false };

/** True for the store's "conditional write lost" error (PreconditionFailedError in the adapters). */
export function isPreconditionFailed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "precondition-failed";
}

/** True for the store's "no such object" error (NotFoundError in the adapters). */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "object-not-found";
}

/** The body as UTF-8, or undefined when it exceeds `maxBytes`. */
export async function readText(
  stream: AsyncIterable<unknown>,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** How a record is stored: pretty JSON with a final newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * A record whose own fields are exactly `required` (each passing its check) plus any of `optional`
 * (each passing its check); any other field makes it fail.
 */
export function hasOnly(
  value: unknown,
  required: Record<string, (v: unknown) => boolean>,
  optional: Record<string, (v: unknown) => boolean>,
): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  for (const [field, check] of Object.entries(required)) if (!check(record[field])) return false;
  for (const field of Object.keys(record)) {
    if (Object.hasOwn(required, field)) continue;
    // Own fields only: `constructor` or `toString` must not pass as known fields.
    const check = Object.hasOwn(optional, field) ? optional[field] : undefined;
    if (!check?.(record[field])) return false;
  }
  return true;
}

export interface ReadJsonOptions {
  /** Larger objects are corrupt. */
  maxBytes: number;
  /** How to recover from a corrupt record of this kind (the `fix` of the error). */
  fix: (key: string) => string;
}

function corrupt(store: ObjectStore, key: string, why: string, options: ReadJsonOptions): EnvironmentError {
  return new EnvironmentError(
    "state-corrupt",
    `kots-backup state ${key} in ${store.location} is corrupt: ${why}`,
    { fix: options.fix(key) },
  );
}

/**
 * Reads and shape-checks the record at `key`; undefined when it does not exist. Head, then the body,
 * then head again: if the object changed in between it is read again, so the etag returned is the one
 * of the body returned.
 */
export async function readVersionedJson<T>(
  store: ObjectStore,
  key: string,
  guard: (value: unknown) => value is T,
  options: ReadJsonOptions,
): Promise<Versioned<T> | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await store.head(key);
    if (!before) return undefined;
    if (before.size > options.maxBytes) throw corrupt(store, key, `it is ${before.size} bytes`, options);
    let text: string | undefined;
    try {
      text = await readText(await store.get(key), options.maxBytes);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const after = await store.head(key);
    if (after?.etag !== before.etag) continue;
    if (text === undefined) {
      throw corrupt(store, key, `it is larger than ${options.maxBytes} bytes`, options);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw corrupt(store, key, "it is not valid JSON", options);
    }
    if (!guard(value)) throw corrupt(store, key, "its fields do not match the expected shape", options);
    return { value, etag: before.etag };
  }
  throw new EnvironmentError("state-unstable", `${key} in ${store.location} changed on every read`, {
    fix: "retry; if it persists, check what else writes kots-backup's state/ objects",
  });
}

/** Writes `value` at `key` only if it is still at `etag` (`undefined`: only if it does not exist yet). */
export async function writeJsonIf(
  store: ObjectStore,
  key: string,
  value: unknown,
  etag: string | undefined,
): Promise<WriteResult> {
  try {
    const info = await store.put(key, toJson(value), {
      ...(etag === undefined ? { ifNoneMatch: true } : { ifMatch: etag }),
      contentType: "application/json",
    });
    return { written: true, etag: info.etag };
  } catch (error) {
    if (isPreconditionFailed(error)) return { written: false };
    throw error;
  }
}

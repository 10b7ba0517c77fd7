// Every secret value this process has resolved through the runtime (cluster token, routing keys,
// webhook URLs, S3 keys), so that whatever prints (the Lambda logger, errors returned to a caller) can
// scrub them. Values are held only in memory, never logged; `redactKnown` is the only way out.
import { redactor, type Secret } from "../secrets/secret.ts";

const known = new Set<Secret | string>();
/** Built once per change of `known`: every log line goes through it. */
let redactKnownValues: ((text: string) => string) | undefined;

/** Remembers secret values to be scrubbed from logs and errors. */
export function rememberSecrets(...secrets: ReadonlyArray<Secret | string | undefined>): void {
  for (const secret of secrets) if (secret !== undefined) known.add(secret);
  redactKnownValues = undefined;
}

/** `text` with every remembered secret redacted, as `redact` does (its parts, in any encoding). */
export function redactKnown(text: string): string {
  if (known.size === 0) return text;
  redactKnownValues ??= redactor([...known]);
  return redactKnownValues(text);
}

/** A plain Error with `error`'s name, and its message and stack passed through {@link redactKnown}. */
export function redactedError(error: Error): Error {
  const copy = new Error(redactKnown(error.message));
  copy.name = error.name;
  if (error.stack) copy.stack = redactKnown(error.stack);
  return copy;
}

/** Deep copy of a JSON-like value with every string passed through {@link redactKnown}. */
export function redactValue<T>(value: T): T {
  if (known.size === 0) return value;
  return walk(value, new WeakSet()) as T;
}

function walk(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactKnown(value);
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, seen));
  if (value instanceof Error) return redactedError(value);
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, seen)]));
}

/** Forgets every remembered value (tests). */
export function forgetSecrets(): void {
  known.clear();
  redactKnownValues = undefined;
}

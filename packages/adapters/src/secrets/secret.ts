// A resolved secret value that refuses to print itself, and a helper that scrubs known secret
// values out of any text (logs, error messages, response bodies echoed back by a peer).
import { inspect } from "node:util";

export const REDACTED = "[redacted]";

/**
 * Holds a secret value. `String(secret)`, template literals, `JSON.stringify` and `util.inspect`
 * (so `console.log`) all give `[redacted]`; only `.reveal()` returns the value.
 */
export class Secret {
  readonly #value: string;
  /** Where the value came from, e.g. `env:PD_ROUTING_KEY`: safe to show, never the value. */
  readonly source: string;

  constructor(value: string, source = "literal") {
    this.#value = value;
    this.source = source;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${this.source}) ${REDACTED}`;
  }
}

/**
 * Values shorter than this are not redacted: replacing every occurrence of, say, "ab" would mangle
 * the text, and real tokens, routing keys and webhook URLs are far longer.
 */
export const MIN_REDACTED_LENGTH = 4;

/**
 * Replaces every occurrence of each known secret value in `text` with `[redacted]`: the raw value,
 * its URL-encoded form and its JSON-escaped form (peers often echo requests back in one of these).
 * Values shorter than {@link MIN_REDACTED_LENGTH} characters are left alone.
 */
export function redact(text: string, secrets: ReadonlyArray<Secret | string | undefined>): string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (secret === undefined) continue;
    const value = typeof secret === "string" ? secret : secret.reveal();
    if (value.length < MIN_REDACTED_LENGTH) continue;
    needles.add(value);
    needles.add(encodeURIComponent(value));
    needles.add(JSON.stringify(value).slice(1, -1));
    needles.add(JSON.stringify(value).slice(1, -1).replaceAll("/", "\\/"));
  }
  // Longest first, so a value that contains another is replaced whole.
  let out = text;
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    if (needle.length >= MIN_REDACTED_LENGTH) out = out.replaceAll(needle, REDACTED);
  }
  return out;
}

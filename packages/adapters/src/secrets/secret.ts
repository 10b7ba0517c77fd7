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
 * Any run of this many characters of a secret (or of one of its parts, in any encoding) is redacted
 * where it appears, so a peer that truncates, re-encodes or splits what it echoes leaks nothing either.
 */
export const REDACTED_RUN = 8;

/**
 * The parts of a secret that are secret on their own. A plain value is one part. A URL (a webhook's,
 * whose credential is its path or query) is split into its user info, its path and each path segment,
 * its query, each query `key=value` and each value, and its fragment: all but the bare host. Path
 * pieces shorter than {@link REDACTED_RUN} (`hooks`, `T0`) are common words and stay readable; they
 * are still redacted as part of the whole path.
 */
export function secretParts(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return [value];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [value];
  }
  const parts = [url.username, url.password, url.hash.slice(1), url.search.slice(1)];
  const path = url.pathname === "/" ? "" : url.pathname;
  parts.push(...[path, ...path.split("/")].filter((p) => p.length >= REDACTED_RUN));
  for (const pair of url.search.slice(1).split("&")) parts.push(pair, pair.slice(pair.indexOf("=") + 1));
  // Each also as decoded, as a peer that parsed the URL would quote it.
  const decoded = parts.map((p) => {
    try {
      return decodeURIComponent(p.replaceAll("+", " "));
    } catch {
      return p;
    }
  });
  return [...new Set([...parts, ...decoded])].filter((p) => p.length >= MIN_REDACTED_LENGTH);
}

/**
 * The forms a text takes when it is echoed: as-is, percent-encoded, JSON-escaped, base64 and
 * base64url (at each of the three byte alignments it can sit at inside a longer encoded text, less the
 * characters that depend on its neighbours) and hex. Letter case is ignored when matching.
 */
export function encodedForms(text: string): string[] {
  const bytes = Buffer.from(text);
  const json = JSON.stringify(text).slice(1, -1);
  const forms = [text, encodeURIComponent(text), encodeURI(text), json, json.replaceAll("/", "\\/")];
  forms.push(bytes.toString("hex"));
  for (const pad of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(pad), bytes]);
    for (const encoding of ["base64", "base64url"] as const) {
      const encoded = padded.toString(encoding);
      // Standalone (no padding before it), the whole encoding is the secret's; inside a longer text,
      // the first and last 4-character groups also hold the neighbours' bits.
      forms.push(pad === 0 ? encoded : encoded.slice(4, -4));
    }
  }
  return forms;
}

/** ASCII letters lower-cased, nothing else touched: indexes into the result are indexes into `text`. */
const foldCase = (text: string) => text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());

/**
 * A function that replaces, in any text, every run of a secret with `[redacted]`: each secret and
 * each of its {@link secretParts}, in each of its {@link encodedForms}, in any letter case. Parts of
 * at least {@link REDACTED_RUN} characters are matched by any run of that length (so a truncated or
 * partial echo is caught too); shorter ones, and a whole URL (whose host alone is not secret), only
 * whole. Values shorter than {@link MIN_REDACTED_LENGTH} are left alone. Redact before truncating.
 */
export function redactor(secrets: ReadonlyArray<Secret | string | undefined>): (text: string) => string {
  const runs = new Set<string>();
  const whole = new Set<string>();
  for (const secret of secrets) {
    if (secret === undefined) continue;
    const value = typeof secret === "string" ? secret : secret.reveal();
    if (value.length < MIN_REDACTED_LENGTH) continue;
    const parts = secretParts(value);
    if (!parts.includes(value)) for (const form of encodedForms(value)) whole.add(foldCase(form));
    for (const form of parts.flatMap(encodedForms)) {
      const folded = foldCase(form);
      if (folded.length < REDACTED_RUN) {
        if (folded.length >= MIN_REDACTED_LENGTH) whole.add(folded);
        continue;
      }
      for (let i = 0; i + REDACTED_RUN <= folded.length; i++) runs.add(folded.slice(i, i + REDACTED_RUN));
    }
  }
  if (runs.size === 0 && whole.size === 0) return (text) => text;
  return (text) => {
    const folded = foldCase(text);
    const hidden = new Uint8Array(text.length);
    for (let i = 0; i + REDACTED_RUN <= folded.length; i++) {
      if (runs.has(folded.slice(i, i + REDACTED_RUN))) hidden.fill(1, i, i + REDACTED_RUN);
    }
    for (const needle of whole) {
      for (let at = folded.indexOf(needle); at !== -1; at = folded.indexOf(needle, at + 1)) {
        hidden.fill(1, at, at + needle.length);
      }
    }
    if (!hidden.includes(1)) return text;
    let out = "";
    for (let i = 0; i < text.length; i++) {
      if (!hidden[i]) out += text[i];
      else if (i === 0 || !hidden[i - 1]) out += REDACTED;
    }
    return out;
  };
}

/** `text` with every secret in `secrets` redacted (see {@link redactor}; build one to redact many texts). */
export function redact(text: string, secrets: ReadonlyArray<Secret | string | undefined>): string {
  return redactor(secrets)(text);
}

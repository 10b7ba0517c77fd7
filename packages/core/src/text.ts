// Untrusted text made safe to show. Cluster-supplied strings (backup annotations, failure reasons,
// app slugs) and config values reach terminals and error messages: a newline in one would forge a
// row, an ANSI/OSC sequence would drive the terminal, a bidi override would reorder what is read.

/** C0 controls, DEL, C1 controls, and the Unicode bidi embeddings/overrides (U+202A–E) and isolates (U+2066–9). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `text` with each unsafe character written as an escape (`\n`, `\u001b`, `\u202e`): one visible line. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** True when `text` holds a character that escapeControl would rewrite. */
export function hasControl(text: string): boolean {
  return text.search(UNSAFE) !== -1;
}

/** Longest part of an input value echoed in a message; the rest is cut with an ellipsis. */
export const ECHO_MAX_CHARS = 64;

/** An input value made safe for a message: escaped, and cut after `max` characters. */
export function shortInput(text: string, max = ECHO_MAX_CHARS): string {
  const shown = Array.from(text.slice(0, max * 2))
    .slice(0, max)
    .join("");
  return `${escapeControl(shown)}${shown.length < text.length ? "…" : ""}`;
}

/** An input value quoted for a message: escaped, and cut after `max` characters. */
export function quoteInput(text: string, max = ECHO_MAX_CHARS): string {
  return `"${shortInput(text, max)}"`;
}

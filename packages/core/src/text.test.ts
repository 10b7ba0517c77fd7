import { describe, expect, it } from "vitest";
import { escapeControl, hasControl, quoteInput } from "./text.ts";

describe("escapeControl", () => {
  it("writes every control and bidi character as a visible escape, one line", () => {
    const hostile =
      "a\nb\r\tc\u001b[31m\u001b]8;;https://x\u0007d\u007f\u0085\u009b\u202eevil\u2066\u2069\u0000";
    const shown = escapeControl(hostile);
    expect(shown).toBe(
      "a\\nb\\r\\tc\\u001b[31m\\u001b]8;;https://x\\u0007d\\u007f\\u0085\\u009b\\u202eevil\\u2066\\u2069\\u0000",
    );
    expect(hasControl(shown)).toBe(false);
    expect(hasControl(hostile)).toBe(true);
  });

  it("leaves printable text alone, non-ASCII included", () => {
    const text = "Europe/Paris — sauvegarde nocturne ✓ 日本";
    expect(escapeControl(text)).toBe(text);
    expect(hasControl(text)).toBe(false);
  });
});

describe("quoteInput", () => {
  it("quotes, escapes and cuts a long value", () => {
    expect(quoteInput("nightly")).toBe('"nightly"');
    expect(quoteInput(`\u001b${"x".repeat(100)}`, 10)).toBe(`"\\u001b${"x".repeat(9)}…"`);
    // A surrogate pair is never split.
    expect(quoteInput("😀😀😀", 2)).toBe('"😀😀…"');
  });
});

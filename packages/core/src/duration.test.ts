import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, MAX_DURATION_MS, parseDuration, tryParseDuration } from "./duration.ts";
import { InputError } from "./errors.ts";

describe("durations", () => {
  it.each([
    ["30s", 30_000],
    ["15m", 900_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1h30m", 5_400_000],
    ["1d2h3m4s", 93_784_000],
  ])("parses %s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "1", "1x", "h", "30m1h", "-1h", "1.5h", "1 h"])("refuses %j, naming the field", (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    expect(() => parseDuration(text, "schedules[0].grace")).toThrow(InputError);
    try {
      parseDuration(text, "schedules[0].grace");
    } catch (error) {
      expect((error as InputError).field).toBe("schedules[0].grace");
    }
  });

  it.each(["999999999999h", `${"9".repeat(40)}d`, `${"9".repeat(400)}s`, "36501d"])(
    "refuses %s as longer than the maximum, so that now ± it stays a valid Date",
    (text) => {
      expect(() => parseDuration(text, "--for")).toThrow(/--for: ".*" is longer than the maximum of 36500d/);
    },
  );

  it("takes the maximum itself, and a smaller one when asked", () => {
    expect(parseDuration("36500d")).toBe(MAX_DURATION_MS);
    expect(new Date(Date.now() + MAX_DURATION_MS).toISOString()).toMatch(/^21\d\d-/);
    expect(() => parseDuration("2d", "grace", 86_400_000)).toThrow(
      /grace: "2d" is longer than the maximum of 1d/,
    );
  });

  it("echoes a bad value escaped and cut short", () => {
    expect(() => parseDuration(`1h\u001b[2J${"x".repeat(1000)}`, "--timeout")).toThrow(
      /^--timeout: "1h\\u001b\[2Jx{58}…" is not a duration$/,
    );
  });

  it("formats as the shortest combination", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(86_400_000)).toBe("1d");
  });

  it("round-trips whole seconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds * 1000))).toBe(seconds * 1000);
      }),
    );
  });
});

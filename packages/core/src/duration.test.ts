import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, tryParseDuration } from "./duration.ts";
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

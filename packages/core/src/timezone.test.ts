import { describe, expect, it } from "vitest";
import { isRepeatedWallTime, timeZoneProblem, utcOffsetMs, wallClock } from "./timezone.ts";

describe("time zones", () => {
  it("takes IANA zones as IANA spells them, aliases included", () => {
    for (const zone of ["Europe/Paris", "UTC", "Etc/UTC", "Asia/Kolkata", "US/Eastern", "Etc/GMT+5"]) {
      expect(timeZoneProblem(zone), zone).toBeUndefined();
    }
  });

  it.each([
    ["Europe/Pariss", "not an IANA time zone", "e.g. UTC"],
    ["", "not an IANA time zone", "e.g. UTC"],
    ["+05:30", "UTC offset", "IANA zone of the place"],
    ["-0800", "UTC offset", "IANA zone of the place"],
    ["GMT+2", "UTC offset", "IANA zone of the place"],
    ["europe/paris", "not spelled as", "did you mean Europe/Paris?"],
    ["utc", "not spelled as", "did you mean UTC?"],
    ["us/eastern", "not spelled as", "did you mean America/New_York?"],
  ])("refuses %j: %s", (zone, problem, fix) => {
    const wrong = timeZoneProblem(zone);
    expect(wrong?.problem).toContain(problem);
    expect(wrong?.fix).toContain(fix);
  });

  it("reads wall clocks and offsets", () => {
    const t = Date.parse("2026-07-01T00:30:00Z");
    expect(wallClock(t, "Europe/Paris")).toMatchObject({ hour: 2, minute: 30, weekday: 3 });
    expect(utcOffsetMs(t, "Europe/Paris")).toBe(2 * 3_600_000);
    expect(utcOffsetMs(t, "America/New_York")).toBe(-4 * 3_600_000);
  });

  it("marks only the second pass through a repeated hour", () => {
    expect(isRepeatedWallTime(Date.parse("2026-10-25T00:30:00Z"), "Europe/Paris")).toBe(false);
    expect(isRepeatedWallTime(Date.parse("2026-10-25T01:30:00Z"), "Europe/Paris")).toBe(true);
    expect(isRepeatedWallTime(Date.parse("2026-10-25T02:30:00Z"), "Europe/Paris")).toBe(false);
  });
});

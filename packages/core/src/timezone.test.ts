import { describe, expect, it } from "vitest";
import { isRepeatedWallTime, isValidTimeZone, utcOffsetMs, wallClock } from "./timezone.ts";

describe("time zones", () => {
  it("knows IANA zones and refuses others", () => {
    expect(isValidTimeZone("Europe/Paris")).toBe(true);
    expect(isValidTimeZone("UTC")).toBe(true);
    expect(isValidTimeZone("Europe/Pariss")).toBe(false);
    expect(isValidTimeZone("")).toBe(false);
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

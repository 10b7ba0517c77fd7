import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lastSlotAtOrBefore, nextSlotAfter, slotsBetween } from "./schedule.ts";
import { wallClock } from "./timezone.ts";

const iso = (dates: Date[]) => dates.map((d) => d.toISOString().replace(".000Z", "Z"));
const at = (text: string) => new Date(text);

describe("slots in UTC", () => {
  const daily = { cron: "30 2 * * *" };

  it("counts a slot exactly at the instant as the last slot at or before it", () => {
    expect(lastSlotAtOrBefore(daily, at("2026-06-10T02:30:00Z"))?.toISOString()).toBe(
      "2026-06-10T02:30:00.000Z",
    );
  });

  it("returns the previous day's slot one second before the slot", () => {
    expect(lastSlotAtOrBefore(daily, at("2026-06-10T02:29:59Z"))?.toISOString()).toBe(
      "2026-06-09T02:30:00.000Z",
    );
  });

  it("returns the following slot, never the one at the instant itself, as the next slot", () => {
    expect(nextSlotAfter(daily, at("2026-06-10T02:30:00Z"))?.toISOString()).toBe("2026-06-11T02:30:00.000Z");
    expect(nextSlotAfter(daily, at("2026-06-10T02:29:59Z"))?.toISOString()).toBe("2026-06-10T02:30:00.000Z");
  });

  it("lists slots in [from, to): from included, to excluded", () => {
    const slots = slotsBetween(daily, at("2026-06-10T02:30:00Z"), at("2026-06-12T02:30:00Z"));
    expect(iso(slots)).toEqual(["2026-06-10T02:30:00Z", "2026-06-11T02:30:00Z"]);
  });

  it("handles sub-second instants", () => {
    expect(nextSlotAfter(daily, at("2026-06-10T02:30:00.500Z"))?.toISOString()).toBe(
      "2026-06-11T02:30:00.000Z",
    );
    expect(lastSlotAtOrBefore(daily, at("2026-06-10T02:29:59.999Z"))?.toISOString()).toBe(
      "2026-06-09T02:30:00.000Z",
    );
  });
});

describe("DST in Europe/Paris (spring 2026-03-29 02:00→03:00, fall 2026-10-25 03:00→02:00)", () => {
  const tz = "Europe/Paris";

  it("skips a daily 02:30 slot on the spring-forward day instead of moving it to 03:00", () => {
    const slots = slotsBetween(
      { cron: "30 2 * * *", timezone: tz },
      at("2026-03-28T00:00Z"),
      at("2026-03-31T12:00Z"),
    );
    expect(iso(slots)).toEqual(["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]);
  });

  it("fires a daily 02:30 slot once on the fall-back day, at its first occurrence (CEST)", () => {
    const slots = slotsBetween(
      { cron: "30 2 * * *", timezone: tz },
      at("2026-10-24T00:00Z"),
      at("2026-10-27T00:00Z"),
    );
    expect(iso(slots)).toEqual(["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
  });

  it("runs an hourly schedule straight through the spring gap (no 02:00 local exists)", () => {
    const slots = slotsBetween(
      { cron: "0 * * * *", timezone: tz },
      at("2026-03-28T23:00Z"),
      at("2026-03-29T03:00Z"),
    );
    expect(iso(slots)).toEqual([
      "2026-03-28T23:00:00Z",
      "2026-03-29T00:00:00Z",
      "2026-03-29T01:00:00Z",
      "2026-03-29T02:00:00Z",
    ]);
  });

  it("fires the repeated 02:00 of an hourly schedule once on the fall-back day", () => {
    const slots = slotsBetween(
      { cron: "0 * * * *", timezone: tz },
      at("2026-10-24T22:00Z"),
      at("2026-10-25T03:00Z"),
    );
    expect(iso(slots)).toEqual([
      "2026-10-24T22:00:00Z",
      "2026-10-24T23:00:00Z",
      "2026-10-25T00:00:00Z",
      "2026-10-25T02:00:00Z",
    ]);
  });

  it("keeps every */15 slot around the spring gap, which has no wall times to lose after 03:00", () => {
    const slots = slotsBetween(
      { cron: "*/15 * * * *", timezone: tz },
      at("2026-03-29T00:30Z"),
      at("2026-03-29T01:30Z"),
    );
    expect(iso(slots)).toEqual([
      "2026-03-29T00:30:00Z",
      "2026-03-29T00:45:00Z",
      "2026-03-29T01:00:00Z",
      "2026-03-29T01:15:00Z",
    ]);
  });

  it("drops the second pass of */15 slots through the repeated hour", () => {
    const slots = slotsBetween(
      { cron: "*/15 * * * *", timezone: tz },
      at("2026-10-25T00:00Z"),
      at("2026-10-25T02:15Z"),
    );
    expect(iso(slots)).toEqual([
      "2026-10-25T00:00:00Z",
      "2026-10-25T00:15:00Z",
      "2026-10-25T00:30:00Z",
      "2026-10-25T00:45:00Z",
      "2026-10-25T02:00:00Z",
    ]);
  });

  it("looks back past the skipped repeat: inside the second 02:xx the last hourly slot is the first 02:00", () => {
    const hourly = { cron: "0 * * * *", timezone: tz };
    expect(lastSlotAtOrBefore(hourly, at("2026-10-25T01:30Z"))?.toISOString()).toBe(
      "2026-10-25T00:00:00.000Z",
    );
    expect(nextSlotAfter(hourly, at("2026-10-25T00:00Z"))?.toISOString()).toBe("2026-10-25T02:00:00.000Z");
  });

  it("looks back past the skipped spring day for a daily 02:30", () => {
    const daily = { cron: "30 2 * * *", timezone: tz };
    expect(lastSlotAtOrBefore(daily, at("2026-03-29T23:00Z"))?.toISOString()).toBe(
      "2026-03-28T01:30:00.000Z",
    );
    expect(nextSlotAfter(daily, at("2026-03-28T01:30Z"))?.toISOString()).toBe("2026-03-30T00:30:00.000Z");
  });
});

describe("DST in America/New_York (spring 2026-03-08 02:00→03:00, fall 2026-11-01 02:00→01:00)", () => {
  const tz = "America/New_York";

  it("skips a daily 02:30 slot on the spring-forward day", () => {
    const slots = slotsBetween(
      { cron: "30 2 * * *", timezone: tz },
      at("2026-03-07T00:00Z"),
      at("2026-03-10T00:00Z"),
    );
    expect(iso(slots)).toEqual(["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"]);
  });

  it("fires a daily 02:30 slot once on the fall-back day (02:30 is not repeated in New York)", () => {
    const slots = slotsBetween(
      { cron: "30 2 * * *", timezone: tz },
      at("2026-10-31T00:00Z"),
      at("2026-11-03T00:00Z"),
    );
    expect(iso(slots)).toEqual(["2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"]);
  });

  it("runs an hourly schedule through the spring gap without a hole in UTC", () => {
    const slots = slotsBetween(
      { cron: "0 * * * *", timezone: tz },
      at("2026-03-08T05:00Z"),
      at("2026-03-08T08:00Z"),
    );
    expect(iso(slots)).toEqual(["2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"]);
  });

  it("fires the repeated 01:00 of an hourly schedule once", () => {
    const slots = slotsBetween(
      { cron: "0 * * * *", timezone: tz },
      at("2026-11-01T04:00Z"),
      at("2026-11-01T08:00Z"),
    );
    expect(iso(slots)).toEqual(["2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"]);
  });

  it("drops the second pass of */15 slots through the repeated 01:xx hour", () => {
    const slots = slotsBetween(
      { cron: "*/15 * * * *", timezone: tz },
      at("2026-11-01T05:30Z"),
      at("2026-11-01T07:01Z"),
    );
    expect(iso(slots)).toEqual(["2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z"]);
  });

  it("skips 02:xx */15 slots in the spring gap", () => {
    const slots = slotsBetween(
      { cron: "*/15 * * * *", timezone: tz },
      at("2026-03-08T06:30Z"),
      at("2026-03-08T07:16Z"),
    );
    expect(iso(slots)).toEqual([
      "2026-03-08T06:30:00Z",
      "2026-03-08T06:45:00Z",
      "2026-03-08T07:00:00Z",
      "2026-03-08T07:15:00Z",
    ]);
  });
});

describe("slot properties", () => {
  const schedules = [
    { cron: "30 2 * * *", timezone: "Europe/Paris" },
    { cron: "0 * * * *", timezone: "America/New_York" },
    { cron: "*/15 * * * *", timezone: "Europe/Paris" },
    { cron: "0 1,2,3 * * *", timezone: "America/New_York" },
    { cron: "45 1 * * 0", timezone: "Australia/Lord_Howe" },
  ];
  const instant = fc.integer({ min: Date.parse("2026-01-01T00:00Z"), max: Date.parse("2027-01-01T00:00Z") });

  it("brackets any instant between the last slot at or before it and the next slot after it, with nothing between", () => {
    fc.assert(
      fc.property(fc.constantFrom(...schedules), instant, (schedule, t) => {
        const last = lastSlotAtOrBefore(schedule, new Date(t));
        const next = nextSlotAfter(schedule, new Date(t));
        expect(last && next).toBeTruthy();
        expect(last!.getTime()).toBeLessThanOrEqual(t);
        expect(next!.getTime()).toBeGreaterThan(t);
        expect(nextSlotAfter(schedule, last!)?.getTime()).toBe(next!.getTime());
      }),
      { numRuns: 150 },
    );
  });

  it("never lists the same wall-clock time twice across a whole year", () => {
    for (const schedule of schedules.filter((s) => !s.cron.startsWith("*/"))) {
      const slots = slotsBetween(schedule, at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z"));
      const walls = slots.map((s) => JSON.stringify(wallClock(s.getTime(), schedule.timezone)));
      expect(new Set(walls).size).toBe(walls.length);
    }
  });
});

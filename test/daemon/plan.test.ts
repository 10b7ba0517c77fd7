// The daemon's slot plan (core/daemon-plan.ts): the latest slot only, no catch-up, lateness bound,
// paused schedules, EventBridge's DST rule (shared with freshness), restart from claims.
import { lastFiredFromClaims, planSlots, secondsCronSlots, slotIso } from "@kots-backup/core/daemon-plan";
import { describe, expect, it } from "vitest";

const HOUR = 3_600_000;
const daily = { name: "nightly", cron: "0 2 * * *", timezone: "UTC", grace: HOUR };

describe("planSlots", () => {
  it("fires the latest slot once, and not again once fired", () => {
    const now = new Date("2026-05-10T02:00:30Z");
    const plan = planSlots({ schedules: [daily], lastFired: {}, now });
    expect(plan.due.map((d) => [d.schedule, slotIso(d.slot), d.lateByMs])).toEqual([
      ["nightly", "2026-05-10T02:00:00Z", 30_000],
    ]);
    expect(slotIso(plan.nextAt as Date)).toBe("2026-05-11T02:00:00Z");
    const again = planSlots({ schedules: [daily], lastFired: { nightly: "2026-05-10T02:00:00Z" }, now });
    expect(again.due).toEqual([]);
  });

  it("never catches up older missed slots: only the latest is considered, within its grace", () => {
    // Down for three days: only 2026-05-10's slot may fire, and only within grace of it.
    const within = planSlots({
      schedules: [daily],
      lastFired: { nightly: "2026-05-07T02:00:00Z" },
      now: new Date("2026-05-10T02:40:00Z"),
    });
    expect(within.due.map((d) => slotIso(d.slot))).toEqual(["2026-05-10T02:00:00Z"]);
    const late = planSlots({
      schedules: [daily],
      lastFired: { nightly: "2026-05-07T02:00:00Z" },
      now: new Date("2026-05-10T09:00:00Z"),
    });
    expect(late.due).toEqual([]);
    expect(late.skipped.map((s) => [slotIso(s.slot), s.reason])).toEqual([
      ["2026-05-10T02:00:00Z", "too-late"],
    ]);
  });

  it("leaves paused schedules alone", () => {
    const plan = planSlots({
      schedules: [{ ...daily, paused: true }],
      lastFired: {},
      now: new Date("2026-05-10T02:00:30Z"),
    });
    expect(plan).toEqual({ due: [], skipped: [] });
  });

  it("follows EventBridge's DST rule: a slot in the skipped hour does not exist", () => {
    const paris = { name: "paris", cron: "30 2 * * *", timezone: "Europe/Paris", grace: 6 * HOUR };
    // 2026-03-29: 02:00 → 03:00 in Paris; 02:30 does not happen, the latest slot is the day before.
    const plan = planSlots({
      schedules: [paris],
      lastFired: { paris: "2026-03-28T01:30:00Z" },
      now: new Date("2026-03-29T03:00:00Z"),
    });
    expect(plan.due).toEqual([]);
    expect(slotIso(plan.nextAt as Date)).toBe("2026-03-30T00:30:00Z");
  });

  it("takes an internal seconds-level slot source (demo) without touching the config's cron", () => {
    const slots = secondsCronSlots("*/10 * * * * *");
    const plan = planSlots({
      schedules: [daily],
      lastFired: {},
      now: new Date("2026-05-10T12:00:27Z"),
      slotSource: () => slots,
    });
    expect(plan.due.map((d) => slotIso(d.slot))).toEqual(["2026-05-10T12:00:20Z"]);
    expect(slotIso(plan.nextAt as Date)).toBe("2026-05-10T12:00:30Z");
    expect(() => secondsCronSlots("every ten seconds")).toThrow(/6-field/);
  });

  it("restarts from the slot claims: the newest claimed slot per schedule", () => {
    expect(
      lastFiredFromClaims([
        { schedule: "a", slot: "2026-05-10T02:00:00Z" },
        { schedule: "a", slot: "2026-05-11T02:00:00Z" },
        { schedule: "b", slot: "2026-05-09T00:00:00Z" },
      ]),
    ).toEqual({ a: "2026-05-11T02:00:00Z", b: "2026-05-09T00:00:00Z" });
  });
});

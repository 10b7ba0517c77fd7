// Recovery means a Completed backup, and its verified export when the schedule exports: verify runs
// every 5 minutes of simulated time over a failed, a missed and a stuck backup, each followed by a
// replacement that stays InProgress for a while. The Check Up comes once the replacement Completed (and
// was exported), never while it is still running.
import { runVerify } from "@kots-backup/core/usecases/verify";
import { describe, expect, it } from "vitest";
import { harness, manifestFor, schedule } from "./support.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const VERIFY_EVERY = 5 * MIN;
const t = (text: string) => Date.parse(text);

interface Planned {
  name: string;
  at: number;
  /** InProgress until then, then `phase`. */
  end: number;
  phase: string;
  exportAt?: number;
}

async function drive(
  exportRequired: boolean,
  planned: Planned[],
  from: number,
  to: number,
): Promise<{ time: number; type: string; reasons: string[] }[]> {
  const nightly = schedule({
    name: "nightly",
    cron: "0 2 * * *",
    grace: HOUR,
    maxDuration: 4 * HOUR,
    export: exportRequired,
  });
  const h = harness();
  const emitted: { time: number; type: string; reasons: string[] }[] = [];
  await runVerify([nightly], h.deps(new Date(from - 2 * 86_400_000))); // first seen two days before
  for (let now = from; now <= to; now += VERIFY_EVERY) {
    h.cluster.backups = [];
    for (const p of planned.filter((x) => x.at <= now)) {
      const done = now >= p.end;
      const b = h.cluster.addFull(
        p.name,
        new Date(p.at),
        done ? p.phase : "InProgress",
        (p.end - p.at) / MIN,
      );
      if (
        p.exportAt !== undefined &&
        p.exportAt <= now &&
        !(await h.destination.head(`manifests/${p.name}.json`))
      )
        await h.destination.put(
          `manifests/${p.name}.json`,
          JSON.stringify(manifestFor(b, new Date(p.exportAt))),
        );
    }
    const run = await runVerify([nightly], h.deps(new Date(now)));
    for (const tr of run.transitions)
      for (const e of tr.events)
        emitted.push({ time: now, type: e.detailType, reasons: e.detail.reasons ?? [] });
  }
  return emitted;
}

const night = (day: number, hour = 2, minute = 0) =>
  t(
    `2026-03-${String(day).padStart(2, "0")}T${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}:00Z`,
  );
const ok = (day: number, exportRequired: boolean): Planned => ({
  name: `instance-${day}`,
  at: night(day),
  end: night(day, 2, 10),
  phase: "Completed",
  ...(exportRequired ? { exportAt: night(day, 2, 25) } : {}),
});

describe("recovery on a timeline (verify every 5 minutes)", () => {
  for (const exportRequired of [false, true]) {
    const upAt = (completed: number, exported: number) => (exportRequired ? exported : completed);

    it(`a failed backup: Check Up once its replacement Completed${exportRequired ? " and was exported" : ""}, not while it runs`, async () => {
      const events = await drive(
        exportRequired,
        [
          ok(1, exportRequired),
          { name: "instance-2", at: night(2), end: night(2, 2, 10), phase: "Failed" },
          // The replacement, taken by hand, runs 40 minutes.
          {
            name: "instance-2-retry",
            at: night(2, 9),
            end: night(2, 9, 40),
            phase: "Completed",
            ...(exportRequired ? { exportAt: night(2, 10) } : {}),
          },
        ],
        night(1, 3),
        night(2, 12),
      );
      expect(events.map((e) => `${e.type}:${e.reasons.join("+")}`)).toEqual([
        "Check Down:failed",
        "Check Up:",
      ]);
      expect(events[0]?.time).toBe(night(2, 2, 10));
      expect(events[1]?.time).toBe(upAt(night(2, 9, 40), night(2, 10)));
    });

    it(`a missed slot: Check Up once the backup taken by hand Completed${exportRequired ? " and was exported" : ""}`, async () => {
      const events = await drive(
        exportRequired,
        [
          ok(1, exportRequired),
          {
            name: "instance-2-manual",
            at: night(2, 9),
            end: night(2, 9, 40),
            phase: "Completed",
            ...(exportRequired ? { exportAt: night(2, 10) } : {}),
          },
        ],
        night(1, 3),
        night(2, 12),
      );
      expect(events.map((e) => `${e.type}:${e.reasons.join("+")}`)).toEqual([
        "Check Down:missed",
        "Check Up:",
      ]);
      expect(events[0]?.time).toBe(night(2, 3));
      expect(events[1]?.time).toBe(upAt(night(2, 9, 40), night(2, 10)));
    });

    it(`a stuck backup: Check Up once it Completed${exportRequired ? " and was exported" : ""}`, async () => {
      const events = await drive(
        exportRequired,
        [
          ok(1, exportRequired),
          {
            name: "instance-2",
            at: night(2),
            end: night(2, 7),
            phase: "Completed",
            ...(exportRequired ? { exportAt: night(2, 7, 30) } : {}),
          },
        ],
        night(1, 3),
        night(2, 12),
      );
      expect(events.map((e) => `${e.type}:${e.reasons.join("+")}`)).toEqual([
        "Check Down:stuck",
        "Check Up:",
      ]);
      expect(events[0]?.time).toBe(night(2, 6));
      expect(events[1]?.time).toBe(upAt(night(2, 7), night(2, 7, 30)));
    });
  }

  it("a replacement that fails too keeps the incident open: no Check Up in between", async () => {
    const events = await drive(
      false,
      [
        ok(1, false),
        { name: "instance-2", at: night(2), end: night(2, 2, 10), phase: "Failed" },
        { name: "instance-2-retry", at: night(2, 9), end: night(2, 9, 40), phase: "Failed" },
      ],
      night(1, 3),
      night(2, 12),
    );
    expect(events.map((e) => e.type)).toEqual(["Check Down"]);
  });
});

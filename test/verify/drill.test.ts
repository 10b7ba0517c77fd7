// The restore drill's check in verify: one incident, one page, one resolve, under
// `kots-backup:<cluster>:drill`, its record at state/alerts/drill.json (in-memory destination); the runs
// are the ones recorded at state/drills/.
import { drillRunOf } from "@kots-backup/core/drill";
import { readDrillRuns, recordDrillRun } from "@kots-backup/core/usecases/drill-runs";
import { runVerify } from "@kots-backup/core/usecases/verify";
import { describe, expect, it } from "vitest";
import { addMinutes, at, harness } from "./support.ts";

const drill = { schedule: "0 3 * * *", timezone: "UTC", grace: 3_600_000, paused: false };
const result = (ok: boolean) => ({
  backup: "instance-a",
  ok,
  ...(ok ? {} : { cause: "velero/backups/instance-a/instance-a.tar.gz is missing" }),
  durationMs: 900,
});

describe("verify: the restore drill", () => {
  it("pages once on a failing drill, stays quiet while down, resolves once when a drill passes", async () => {
    const h = harness();
    const run = (now: Date) => runVerify([], h.deps(now, { drill }));
    await recordDrillRun(h.destination, drillRunOf(at("2026-03-02T03:00:00Z"), [result(true)]));
    expect((await run(at("2026-03-02T03:05:00Z"))).report.checks).toEqual([
      expect.objectContaining({ name: "drill", state: "up" }),
    ]);
    expect(await h.destination.head("state/alerts/drill.json")).toBeDefined();

    await recordDrillRun(h.destination, drillRunOf(at("2026-03-03T03:00:00Z"), [result(false)]));
    const down = await run(at("2026-03-03T03:01:00Z"));
    expect(down.report.checks[0]).toMatchObject({ state: "down", reasons: ["drill-failed"] });
    for (let i = 1; i <= 5; i++) await run(addMinutes(at("2026-03-03T03:01:00Z"), 5 * i));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:drill"]);
    const page = h.delivery.sent[0]?.event;
    expect(page?.detail).toMatchObject({ dedupKey: "kots-backup:prod:drill", reasons: ["drill-failed"] });
    expect(page?.detail.message).toContain("instance-a.tar.gz is missing");

    await recordDrillRun(h.destination, drillRunOf(at("2026-03-03T04:00:00Z"), [result(true)]));
    await run(at("2026-03-03T04:01:00Z"));
    await run(at("2026-03-03T04:06:00Z"));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:drill", "Check Up:drill"]);
  });

  it("pages drill-missed when no run comes by the slot + grace", async () => {
    const h = harness();
    const run = (now: Date) => runVerify([], h.deps(now, { drill }));
    await run(at("2026-03-01T12:00:00Z"));
    expect((await run(at("2026-03-02T03:59:00Z"))).report.checks[0]?.state).toBe("grace");
    const down = await run(at("2026-03-02T04:00:00Z"));
    expect(down.report.checks[0]).toMatchObject({ state: "down", reasons: ["drill-missed"] });
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:drill"]);
  });

  it("a delete the store refuses leaves the new run recorded and says why", async () => {
    const h = harness();
    await recordDrillRun(h.destination, drillRunOf(at("2026-03-02T03:00:00Z"), [result(true)]), 1);
    h.destination.delete = async () => {
      throw new Error("AccessDenied");
    };
    const second = await recordDrillRun(
      h.destination,
      drillRunOf(at("2026-03-02T03:05:00Z"), [result(true)]),
      1,
    );
    expect(second.pruneError).toContain("AccessDenied");
    expect((await readDrillRuns(h.destination)).map((r) => r.at)).toEqual([
      "2026-03-02T03:05:00.000Z",
      "2026-03-02T03:00:00.000Z",
    ]);
  });

  it("keeps only the newest runs", async () => {
    const h = harness();
    for (let i = 0; i < 5; i++)
      await recordDrillRun(
        h.destination,
        drillRunOf(addMinutes(at("2026-03-02T03:00:00Z"), i), [result(true)]),
        3,
      );
    const runs = await readDrillRuns(h.destination);
    expect(runs.map((r) => r.at)).toEqual([
      "2026-03-02T03:04:00.000Z",
      "2026-03-02T03:03:00.000Z",
      "2026-03-02T03:02:00.000Z",
    ]);
  });
});

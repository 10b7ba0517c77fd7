import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.ts";
import { type DrillRun, drillRunOf, drillRunSummaries, evaluateDrill, renderDrillRuns } from "./drill.ts";
import { checkRecordKey, drillRunKey, drillRunTimeOfKey } from "./export-layout.ts";
import { renderStatusPage } from "./status-page.ts";

// Daily at 03:00 UTC, 1h grace.
const drill = { schedule: "0 3 * * *", timezone: "UTC", grace: 3_600_000, paused: false };
const at = (text: string) => new Date(text);
const run = (time: string, ok: boolean): DrillRun =>
  drillRunOf(at(time), [
    { backup: "instance-a", ok, ...(ok ? {} : { cause: "checksum differs" }), durationMs: 1200 },
  ]);

describe("drill check", () => {
  it("is new before its first slot, in grace after it, down with drill-missed at slot + grace", () => {
    const seen = "2026-03-01T12:00:00Z";
    expect(evaluateDrill(drill, undefined, at("2026-03-01T20:00:00Z"), seen).state).toBe("new");
    expect(evaluateDrill(drill, undefined, at("2026-03-02T03:30:00Z"), seen)).toMatchObject({
      state: "grace",
      since: "2026-03-02T03:00:00Z",
    });
    expect(evaluateDrill(drill, undefined, at("2026-03-02T04:00:00Z"), seen)).toMatchObject({
      state: "down",
      reasons: ["drill-missed"],
      since: "2026-03-02T04:00:00Z",
      expectedBy: "2026-03-02T04:00:00Z",
    });
  });

  it("a run at a slot covers it; the next slot without a run is missed", () => {
    const newest = run("2026-03-02T03:00:01.250Z", true);
    const seen = "2026-03-01T12:00:00Z";
    expect(evaluateDrill(drill, newest, at("2026-03-03T03:59:00Z"), seen).state).toBe("grace");
    expect(evaluateDrill(drill, newest, at("2026-03-02T12:00:00Z"), seen)).toMatchObject({
      state: "up",
      lastSuccessAt: "2026-03-02T03:00:01.250Z",
      expectedBy: "2026-03-03T04:00:00Z",
    });
    expect(evaluateDrill(drill, newest, at("2026-03-03T04:00:00Z"), seen).reasons).toEqual(["drill-missed"]);
  });

  it("a failing newest run is down at once with drill-failed; a passing run recovers it", () => {
    const failed = evaluateDrill(drill, run("2026-03-02T03:00:00Z", false), at("2026-03-02T03:00:05Z"));
    expect(failed).toMatchObject({
      state: "down",
      reasons: ["drill-failed"],
      since: "2026-03-02T03:00:00Z",
      backups: { "drill-failed": "instance-a" },
      drill: { failed: [{ backup: "instance-a", cause: "checksum differs" }] },
    });
    expect(evaluateDrill(drill, run("2026-03-02T03:10:00Z", true), at("2026-03-02T03:10:05Z")).state).toBe(
      "up",
    );
  });

  it("a run with nothing to drill fails; a paused drill is not evaluated", () => {
    const empty = drillRunOf(at("2026-03-02T03:00:00Z"), []);
    expect(empty.ok).toBe(false);
    expect(evaluateDrill(drill, empty, at("2026-03-02T03:01:00Z")).reasons).toEqual(["drill-failed"]);
    expect(evaluateDrill({ ...drill, paused: true }, empty, at("2026-03-02T03:01:00Z")).state).toBe("paused");
  });

  it("keys: state/drills/<time>.json and state/alerts/drill.json", () => {
    const key = drillRunKey(at("2026-03-02T03:00:00Z"));
    expect(key).toBe("state/drills/2026-03-02T03:00:00.000Z.json");
    expect(drillRunTimeOfKey(key)).toBe("2026-03-02T03:00:00.000Z");
    expect(drillRunTimeOfKey("state/drills/x.json")).toBeUndefined();
    expect(checkRecordKey("drill")).toBe("state/alerts/drill.json");
  });

  it("config: drill is optional, defaults timezone and grace, refuses a schedule named drill beside it", () => {
    expect(parseConfig({}).drill).toBeUndefined();
    expect(parseConfig({ drill: { schedule: "0 3 * * *" } }).drill).toEqual({
      schedule: "0 3 * * *",
      timezone: "UTC",
      grace: 3_600_000,
      paused: false,
    });
    expect(() => parseConfig({ drill: { schedule: "61 3 * * *" } })).toThrow(/drill\.schedule/);
    expect(() =>
      parseConfig({ drill: { schedule: "0 3 * * *" }, schedules: [{ name: "drill", cron: "0 1 * * *" }] }),
    ).toThrow(/schedules\[0\]\.name/);
  });
});

describe("drill runs in status", () => {
  const runs = [
    drillRunOf(at("2026-03-03T03:00:00Z"), [
      { backup: "instance-b", ok: false, cause: "<missing> object\nforged line", durationMs: 2500 },
      { backup: "app-c", ok: true, durationMs: 500 },
    ]),
    drillRunOf(at("2026-03-02T03:00:00Z"), [{ backup: "instance-a", ok: true, durationMs: 1200 }]),
  ];

  it("summarizes each run: time, outcome, total duration, the failed exports", () => {
    expect(drillRunSummaries(runs)).toEqual([
      {
        at: "2026-03-03T03:00:00.000Z",
        ok: false,
        durationMs: 3000,
        failed: [{ backup: "instance-b", cause: "<missing> object\nforged line" }],
      },
      { at: "2026-03-02T03:00:00.000Z", ok: true, durationMs: 1200, failed: [] },
    ]);
  });

  it("renders a line per run and the durations oldest → newest, as text and on the page", () => {
    const text = renderDrillRuns(drillRunSummaries(runs));
    expect(text.split("\n")).toContain(
      "2026-03-03T03:00:00.000Z  FAILED     3.0 s  instance-b: <missing> object\\nforged line",
    );
    expect(text).toContain("durations, oldest → newest: 1.2 s → 3.0 s");
    const page = renderStatusPage({
      cluster: "prod",
      generatedAt: "2026-03-03T04:00:00Z",
      from: 0,
      to: 1,
      clusterReachable: true,
      schedules: [],
      drills: drillRunSummaries(runs),
    });
    expect(page).toContain("<h2>Restore drills</h2>");
    expect(page).toContain("instance-b: &#60;missing&#62; object");
    expect(page).toContain("Durations, oldest → newest: 1.2 s → 3.0 s");
  });
});

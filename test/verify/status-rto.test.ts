// `status` shows the restore time (RTO) of the live drill: per run (the slowest restore of the run), and
// the newest against the median of the runs before it; "no live drill configured" when no run recorded
// one. Runs are recorded through the real store helpers in a local folder; the CLI runs against the
// sandbox cluster (JSON, terminal, --html).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { DRILL_RUNS_SHOWN, type DrillRunResult, drillRunOf } from "@kots-backup/core/drill";
import { drillRto, renderStatusPage, rtoLine, statusDrills } from "@kots-backup/core/status-page";
import { readDrillRuns, recordDrillRun } from "@kots-backup/core/usecases/drill-runs";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams, openTestCluster, type TestCluster } from "../backup/support.ts";

const day = (d: number) => new Date(`2026-03-0${d}T03:00:00.000Z`);
const offline = (backup: string): DrillRunResult => ({ backup, ok: true, durationMs: 800 });
const live = (backup: string, restoreMs: number): DrillRunResult => ({ ...offline(backup), restoreMs });

/** Five runs, oldest first: 10 s, 11 s (the slower of two restores), 9 s, one offline only, 14 s. */
async function recordRuns(folder: string) {
  const store = new LocalFolderStore(folder);
  const runs = [
    [live("a-1", 10_000)],
    [live("a-2", 4_000), live("b-2", 11_000)],
    [live("a-3", 9_000)],
    [offline("a-4")],
    [live("a-5", 14_000)],
  ];
  for (const [i, results] of runs.entries()) await recordDrillRun(store, drillRunOf(day(i + 1), results));
  return store;
}

const page = (drills: ReturnType<typeof statusDrills>["drills"]) =>
  renderStatusPage({
    cluster: "prod",
    generatedAt: "2026-03-05T04:00:00Z",
    from: day(1).getTime(),
    to: day(5).getTime(),
    clusterReachable: true,
    schedules: [],
    drills,
  });

describe("status: the live drill's restore time (RTO)", () => {
  it("per run the slowest restore, and the newest against the median of the runs before", async () => {
    const store = await recordRuns(mkdtempSync(join(tmpdir(), "kb-rto-")));
    const { drills, drillRto: rto } = statusDrills(await readDrillRuns(store, DRILL_RUNS_SHOWN));
    expect(drills.map((r) => r.restoreMs)).toEqual([14_000, undefined, 9_000, 11_000, 10_000]);
    expect(rto).toEqual({
      live: true,
      at: day(5).toISOString(),
      restoreMs: 14_000,
      previous: { medianMs: 10_000, runs: 3 },
    });
    expect(rtoLine(rto)).toBe(
      "RTO 14.0 s (drill at 2026-03-05T03:00:00.000Z; median 10.0 s over the 3 runs before)",
    );
    // An even count: the mean of the two middle values.
    expect(drillRto([...drills, { ...drills[4]!, restoreMs: 13_000 }])).toMatchObject({
      previous: { medianMs: 10_500, runs: 4 },
    });
    const html = page(drills);
    expect(html).toContain("<th>RTO</th>");
    expect(html).toContain(`<td class="t">14.0 s</td>`);
    expect(html).toContain(
      "RTO 14.0 s (drill at 2026-03-05T03:00:00.000Z; median 10.0 s over the 3 runs before)",
    );
  });

  it("says no live drill is configured when no run recorded a restore time", async () => {
    const store = new LocalFolderStore(mkdtempSync(join(tmpdir(), "kb-rto-")));
    await recordDrillRun(store, drillRunOf(day(1), [offline("a-1")]));
    const { drills, drillRto: rto } = statusDrills(await readDrillRuns(store));
    expect(drills[0]).not.toHaveProperty("restoreMs");
    expect(rto).toEqual({ live: false });
    expect(rtoLine(rto)).toBe("RTO: no live drill configured (no drill run recorded a restore time)");
    expect(page(drills)).toContain("RTO: no live drill configured");
    // A restore time that is no duration makes the record corrupt, as any other bad field.
    const bad = { ...drillRunOf(day(3), [offline("a-3")]) };
    await store.put(
      "state/drills/2026-03-03T03:00:00.000Z.json",
      JSON.stringify({ ...bad, results: [{ ...bad.results[0], restoreMs: -1 }] }),
    );
    await expect(readDrillRuns(store)).rejects.toThrow(/is corrupt: its fields do not match/);
    await store.delete("state/drills/2026-03-03T03:00:00.000Z.json");
    // The first live drill has nothing to compare with yet.
    await recordDrillRun(store, drillRunOf(day(2), [live("a-2", 12_000)]));
    expect(rtoLine(statusDrills(await readDrillRuns(store)).drillRto)).toBe(
      "RTO 12.0 s (drill at 2026-03-02T03:00:00.000Z; no earlier live drill to compare)",
    );
  });
});

describe("kots-backup status: the RTO (sandbox cluster, local-folder destination)", () => {
  let env: TestCluster | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it("in --json, on the terminal and on the --html page", async () => {
    env = await openTestCluster({ startTime: day(5) });
    const dir = mkdtempSync(join(tmpdir(), "kb-rto-status-"));
    await recordRuns(join(dir, "data"));
    const config = join(dir, "kots-backup.yaml");
    writeFileSync(
      config,
      [
        "cluster:",
        "  name: test",
        `  kubeconfig: ${env.sandbox.kubeconfigPath}`,
        "export:",
        `  destination: file://${join(dir, "data")}`,
        "drill:",
        "  schedule: '0 3 * * *'",
      ].join("\n"),
    );
    const status = async (...args: string[]) => {
      const io = captureStreams();
      await main(["--config", config, "status", ...args], io.streams);
      return io.stdout();
    };
    const report = JSON.parse(await status("--json"));
    expect(report.drills.map((r: { restoreMs?: number }) => r.restoreMs)).toEqual([
      14_000,
      undefined,
      9_000,
      11_000,
      10_000,
    ]);
    expect(report.drillRto).toEqual({
      live: true,
      at: day(5).toISOString(),
      restoreMs: 14_000,
      previous: { medianMs: 10_000, runs: 3 },
    });

    const text = await status();
    expect(text).toContain("\nrestore times (RTO), oldest → newest: 10.0 s → 11.0 s → 9.0 s → - → 14.0 s\n");
    expect(text).toContain(
      "\nRTO 14.0 s (drill at 2026-03-05T03:00:00.000Z; median 10.0 s over the 3 runs before)",
    );

    const html = join(dir, "status.html");
    await status("--html", html);
    expect(readFileSync(html, "utf8")).toContain("median 10.0 s over the 3 runs before");
  });
});

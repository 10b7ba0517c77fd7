// The daemon runs the restore drill on its slot (in process, sandbox cluster, local-folder destination,
// a test clock): the first drill finds nothing restorable and the `drill` check goes down with one
// Check Down; after a real export lands, the next slot's drill passes and the check resolves with one
// Check Up. Each run is recorded under state/drills/.
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect } from "@kots-backup/adapters/kube/connection";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { parseConfig } from "@kots-backup/core/config";
import { lastSlotAtOrBefore } from "@kots-backup/core/schedule";
import { readDrillRuns } from "@kots-backup/core/usecases/drill-runs";
import type { VerifyRun } from "@kots-backup/core/usecases/verify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Daemon, type DaemonEvent } from "../../packages/cli/src/daemon/daemon.ts";
import { type ExportEnv, openExportEnv, removeTempFolders, tempFolder } from "../export/support.ts";

const BACKUP = "instance-drilld";
const HOUR = 3_600_000;
let env: ExportEnv;
let folder: string;

beforeAll(async () => {
  env = await openExportEnv();
  folder = tempFolder();
});
afterAll(async () => {
  await env?.stop();
  removeTempFolders();
});

/** Runs a daemon at `now` until a verify run shows the drill check in `state`; returns what it did. */
async function daemonUntil(now: Date, state: string) {
  const connection = await connect({ kind: "kubeconfig", file: env.sandbox.kubeconfigPath });
  const cluster = new KubeKotsCluster(connection, { name: "test" });
  const config = parseConfig({
    cluster: { name: "test" },
    export: { destination: `file://${folder}` },
    drill: { schedule: "0 * * * *", grace: "1h" },
  });
  const events: DaemonEvent[] = [];
  const runs: VerifyRun[] = [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  const daemon = new Daemon({
    config,
    cluster,
    destination: new LocalFolderStore(folder),
    channels: [],
    log: () => {},
    now: () => now,
    tickMs: 20,
    verifyIntervalMs: 24 * HOUR,
    onEvent: (e) => {
      events.push(e);
      if (e.type !== "verify") return;
      runs.push(e.run);
      if (e.run.report.checks.some((c) => c.name === "drill" && c.state === state)) controller.abort();
    },
  });
  await daemon.run(controller.signal);
  clearTimeout(timer);
  const transitions = runs.flatMap((r) =>
    r.transitions.flatMap((t) => t.events.map((e) => `${e.detailType}:${t.schedule}`)),
  );
  return { events, runs, transitions };
}

describe("daemon: the scheduled restore drill", () => {
  it("drills on its slot, pages once on a failing drill, resolves once when a drill passes", async () => {
    const t0 = env.now();
    const first = await daemonUntil(t0, "down");
    const slot = lastSlotAtOrBefore({ cron: "0 * * * *" }, t0) as Date;
    expect(first.events.filter((e) => e.type === "drill")).toEqual([
      { type: "drill", slot: slot.toISOString().replace(".000Z", "Z"), ok: false, backups: 0 },
    ]);
    expect(first.transitions).toEqual(["Check Down:drill"]);
    expect(first.runs.at(-1)?.report.checks).toEqual([
      expect.objectContaining({ name: "drill", state: "down", reasons: ["drill-failed"] }),
    ]);

    // A real export lands; the next slot's drill passes.
    await env.sandbox.scenario.addBackup({ name: BACKUP });
    await env.run({ backup: BACKUP, scope: "full" }, new LocalFolderStore(folder));
    const second = await daemonUntil(new Date(slot.getTime() + HOUR + 60_000), "up");
    expect(second.events.filter((e) => e.type === "drill")).toEqual([
      expect.objectContaining({ ok: true, backups: 1 }),
    ]);
    expect(second.transitions).toEqual(["Check Up:drill"]);

    const recorded = await readDrillRuns(new LocalFolderStore(folder));
    expect(recorded.map((r) => r.ok)).toEqual([true, false]);
    expect(recorded[0]?.results).toEqual([{ backup: BACKUP, ok: true, durationMs: expect.any(Number) }]);
  });
});

// `kots-backup silence drill`: the restore drill's check is silenced like a schedule (a DR cluster's
// maintenance must not page), by its check name, only while `drill:` is configured.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { drillRunOf } from "@kots-backup/core/drill";
import { recordDrillRun } from "@kots-backup/core/usecases/drill-runs";
import { runVerify } from "@kots-backup/core/usecases/verify";
import { describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams } from "../backup/support.ts";
import { at, harness } from "./support.ts";

async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout() };
}

function writeConfig(withDrill: boolean): { config: string; data: string } {
  const dir = mkdtempSync(join(tmpdir(), "kb-silence-drill-"));
  const config = join(dir, "kots-backup.yaml");
  writeFileSync(
    config,
    [
      `export: { destination: "file://${join(dir, "data")}" }`,
      "schedules: [{ name: nightly, cron: '0 2 * * *' }]",
      ...(withDrill ? ["drill: { schedule: '0 3 * * *' }"] : []),
    ].join("\n"),
  );
  return { config, data: join(dir, "data") };
}

describe("silence the restore drill", () => {
  it("is accepted by its check name while drill: is configured, and unsilenced the same way", async () => {
    const { config, data } = writeConfig(true);
    const ok = await cli([
      "--config",
      config,
      "--json",
      "silence",
      "drill",
      "--for",
      "2h",
      "--reason",
      "DR upgrade",
    ]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ schedule: "drill", reason: "DR upgrade" });
    expect(existsSync(join(data, "state", "silences", "drill.json"))).toBe(true);

    const un = await cli(["--config", config, "--json", "unsilence", "drill"]);
    expect(JSON.parse(un.stdout)).toMatchObject({ schedule: "drill", silenced: false });
  });

  it("is refused, naming the known checks, when no drill is configured", async () => {
    const { config } = writeConfig(false);
    const refused = await cli(["--config", config, "--json", "silence", "drill", "--for", "2h"]);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error).toMatchObject({
      code: "unknown-schedule",
      fix: "use one of: nightly",
    });
  });

  it("holds back the drill's page until the silence ends", async () => {
    const h = harness();
    const drill = { schedule: "0 3 * * *", timezone: "UTC", grace: 3_600_000, paused: false };
    const run = (now: string) => runVerify([], h.deps(at(now), { drill }));
    await h.state.setSilence({
      schedule: "drill",
      until: "2026-03-03T06:00:00Z",
      createdAt: "2026-03-03T02:00:00Z",
    });
    await recordDrillRun(
      h.destination,
      drillRunOf(at("2026-03-03T03:00:00Z"), [
        { backup: "instance-a", ok: false, cause: "restore PartiallyFailed", durationMs: 900 },
      ]),
    );
    const silenced = await run("2026-03-03T03:05:00Z");
    expect(silenced.report.checks[0]).toMatchObject({
      name: "drill",
      state: "down",
      silencedUntil: "2026-03-03T06:00:00Z",
    });
    expect(h.delivery.to("pagerduty")).toEqual([]);
    await run("2026-03-03T06:01:00Z");
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:drill"]);
  });
});

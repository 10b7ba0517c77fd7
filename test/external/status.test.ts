// `kots-backup status` with external recovery points: recoverability per app in JSON, on the terminal
// and on the status page (sandbox cluster, a local-folder destination, a real `command` point).
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams, openTestCluster, type TestCluster } from "../backup/support.ts";

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe("kots-backup status: recoverability per app", () => {
  it("shows each app's KOTS snapshot, export and external points, the oldest as its recovery point", async () => {
    const now = new Date();
    env = await openTestCluster({ startTime: now });
    await env.sandbox.scenario.addBackup({
      startedAt: new Date(now.getTime() - 30 * 60_000),
      trigger: "schedule",
    });
    const dir = mkdtempSync(join(tmpdir(), "kb-external-status-"));
    const dumpAt = new Date(now.getTime() - 5 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const probe = join(dir, "newest-dump");
    writeFileSync(probe, `#!/bin/sh\necho ${dumpAt}\n`);
    chmodSync(probe, 0o755);
    const config = join(dir, "kots-backup.yaml");
    writeFileSync(
      config,
      [
        "cluster:",
        "  name: test",
        `  kubeconfig: ${env.sandbox.kubeconfigPath}`,
        "export:",
        `  destination: file://${join(dir, "data")}`,
        "schedules:",
        "  - name: nightly",
        "    cron: '0 2 * * *'",
        "    export: false",
        "external:",
        "  - kind: command",
        "    name: orders-dump",
        "    app: orders",
        "    period: 1d",
        `    command: [${probe}]`,
      ].join("\n"),
    );
    const json = await cli(["--config", config, "--json", "status"]);
    const report = JSON.parse(json.stdout) as {
      checks: { name: string; state: string }[];
      apps: {
        app: string;
        recoveryPoint?: string;
        limitedBy?: string;
        components: { label: string; at?: string }[];
      }[];
    };
    expect(report.checks.map((c) => [c.name, c.state])).toEqual([
      ["nightly", "up"],
      ["external:orders-dump", "up"],
    ]);
    expect(report.apps).toEqual([
      expect.objectContaining({ app: "orders", recoveryPoint: dumpAt, limitedBy: "orders-dump (command)" }),
    ]);
    expect(report.apps[0]?.components.map((c) => c.label)).toEqual([
      "KOTS snapshot (nightly)",
      "orders-dump (command)",
    ]);

    const human = await cli(["--config", config, "status"]);
    expect(human.stdout).toContain("RECOVERABILITY (per app: the oldest of its recovery points)");
    expect(human.stdout).toContain(`orders: recovery point ${dumpAt}, set by orders-dump (command)`);

    const page = join(dir, "status.html");
    await cli(["--config", config, "status", "--html", page]);
    const html = readFileSync(page, "utf8");
    expect(html).toContain("Recoverability per app");
    expect(html).toContain(`Recovery point: <b>${dumpAt}</b>`);
  });
});

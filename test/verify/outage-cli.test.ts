// `status` and `verify` through main([...]) with the cluster unreachable: the restore point (by name,
// with its restore command) and the last export come from the destination's manifests, and a
// silence's --reason is shown in the text, the JSON and the status page (escaped).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import "../../packages/cli/src/commands/index.ts";
import { describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams } from "../backup/support.ts";
import { FakeCluster, writeManifest } from "./support.ts";

const HOUR = 3_600_000;

async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** A config whose cluster cannot be reached, and a destination holding two verified exports. */
async function outage(): Promise<{ config: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "kb-outage-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
      "users: [{name: u, user: {token: abc}}]",
      "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
      "current-context: x",
    ].join("\n"),
  );
  const config = join(dir, "kots-backup.yaml");
  writeFileSync(
    config,
    [
      "cluster:",
      "  name: test",
      `  kubeconfig: ${kubeconfig}`,
      "export:",
      `  destination: file://${join(dir, "data")}`,
      "schedules:",
      "  - name: nightly",
      "    cron: '0 2 * * *'",
    ].join("\n"),
  );
  mkdirSync(join(dir, "data"));
  const store = new LocalFolderStore(join(dir, "data"));
  const backups = new FakeCluster();
  const now = Date.now();
  for (const [name, age] of [
    ["instance-older", 50],
    ["instance-newest", 26],
  ] as const) {
    const b = backups.addFull(name, new Date(now - age * HOUR));
    await writeManifest(store, b, new Date(now - (age - 1) * HOUR));
  }
  return { config, dir };
}

describe("status and verify with the cluster unreachable", () => {
  it("name the restore point and its command, the last export, and the silence's reason", async () => {
    // Prepare
    const { config, dir } = await outage();
    const reason = "node upgrade <b>&</b>";
    const silenced = await cli(["--config", config, "silence", "nightly", "--for", "2h", "--reason", reason]);
    expect(silenced.code).toBe(0);
    // Act
    const json = await cli(["--config", config, "--json", "status", "--html", join(dir, "status.html")]);
    const text = await cli(["--config", config, "status"]);
    const verify = await cli(["--config", config, "--json", "verify"]);
    // Assess
    const check = JSON.parse(json.stdout).checks[0];
    expect(check).toMatchObject({
      name: "nightly",
      reasons: ["cluster-unreachable"],
      silenceReason: reason,
      restorePoint: {
        backup: "instance-newest",
        restoreCommand: "kubectl kots restore --from-backup instance-newest",
      },
    });
    expect(check.lastExportAt).toMatch(/Z$/);
    expect(check.restorePoint.exportedAt).toBe(check.lastExportAt);
    expect(JSON.parse(verify.stdout).checks[0]).toMatchObject({
      silenceReason: reason,
      restorePoint: { backup: "instance-newest" },
    });
    expect(text.stdout).toContain("kubectl kots restore --from-backup instance-newest");
    expect(text.stdout).toContain(`silenced until ${check.silencedUntil}: ${reason}`);
    expect(text.stdout).toContain(check.lastExportAt);
    const page = readFileSync(join(dir, "status.html"), "utf8");
    expect(page).toContain("instance-newest");
    expect(page).toContain("node upgrade &#60;b&#62;&#38;&#60;/b&#62;");
    expect(page).not.toContain(reason);
  });
});

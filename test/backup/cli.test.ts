// `kots-backup backup` and `kots-backup ls` through main([...]) against the sandbox.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import {
  BACKUP_RESULT_FIELDS,
  backupsIn,
  captureStreams,
  driveUntilSettled,
  openTestCluster,
  type TestCluster,
} from "./support.ts";

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

async function cli(args: string[], t?: TestCluster) {
  const io = captureStreams();
  const run = main(args, io.streams);
  const code = t ? await driveUntilSettled(t.sandbox, run) : await run;
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe("kots-backup backup", () => {
  it("takes a full backup, waits, and prints exactly one JSON document with the contract's fields", async () => {
    env = await openTestCluster();
    const { code, stdout, stderr } = await cli(
      ["--kubeconfig", env.sandbox.kubeconfigPath, "--json", "backup"],
      env,
    );
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, unknown>;
    for (const field of BACKUP_RESULT_FIELDS) expect(result).toHaveProperty(field);
    expect(result).toMatchObject({
      type: "full",
      phase: "Completed",
      status: "Completed",
      trigger: "manual",
      deduplicated: false,
    });
    expect(result["completedAt"]).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/));
    // Progress and logs go to stderr, as JSON lines.
    for (const line of stderr.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    const secret = (await env.sandbox.kotsadm.authString())!;
    expect(stdout + stderr).not.toContain(secret);
    expect(stdout + stderr).not.toContain(env.sandbox.serviceAccountToken);
  });

  it("exits 1 when the backup ends Failed, still printing the result", async () => {
    env = await openTestCluster();
    env.sandbox.velero.scriptNext({ outcome: "Failed" });
    const { code, stdout } = await cli(
      ["--kubeconfig", env.sandbox.kubeconfigPath, "--json", "backup", "--timeout", "1h"],
      env,
    );
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ phase: "Failed", status: "Failed" });
  });

  it("with --no-wait returns once kotsadm accepted, with a human summary", async () => {
    // The CLI compares kotsadm's request times with its own clock: start the sandbox's clock at real time.
    env = await openTestCluster({ startTime: new Date() });
    const { code, stdout } = await cli([
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
      "backup",
      "--type",
      "partial",
      "--app",
      "my-app",
      "--no-wait",
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^name\s+my-app-\S+$/m);
    expect(stdout).toMatch(/^type\s+partial \(my-app\)$/m);
    expect(stdout).toMatch(/^status\s+InProgress/m);
  });

  it("refuses --type partial without --app with exit 2 before any call", async () => {
    env = await openTestCluster();
    const { code, stdout } = await cli([
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
      "--json",
      "backup",
      "--type",
      "partial",
    ]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: "app-required", field: "--app" } });
    expect(env.sandbox.kotsadm.requests).toEqual([]);
  });

  it("refuses a bad --timeout and an unknown --type with exit 2", async () => {
    const timeout = await cli(["--json", "backup", "--timeout", "soon"]);
    expect(timeout.code).toBe(2);
    expect(JSON.parse(timeout.stdout)).toMatchObject({
      error: { code: "invalid-duration", field: "--timeout" },
    });
    const type = await cli(["--json", "backup", "--type", "everything"]);
    expect(type.code).toBe(2);
    expect(JSON.parse(type.stdout).error.message).toContain("Allowed choices are full, partial");
  });

  it("refuses an unknown app with exit 2 and starts nothing", async () => {
    env = await openTestCluster();
    const { code, stdout } = await cli([
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
      "--json",
      "backup",
      "--type",
      "partial",
      "--app",
      "nope",
    ]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: "unknown-app", field: "--app" } });
    expect(backupsIn(env.sandbox)).toEqual([]);
  });

  it("exits 3 on kotsadm's 409 with the ensure-permissions fix", async () => {
    env = await openTestCluster();
    env.sandbox.kotsadm.refuseVeleroAccess = true;
    const { code, stderr } = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, "backup"]);
    expect(code).toBe(3);
    expect(stderr).toContain("fix: run `kubectl kots velero ensure-permissions --namespace default");
  });

  it("exits 3 naming the server when the cluster is unreachable, and on an untrusted CA", async () => {
    env = await openTestCluster();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dir = mkdtempSync(join(tmpdir(), "kb-cli-"));
    const unreachable = join(dir, "unreachable");
    writeFileSync(
      unreachable,
      env.sandbox.kubeconfigYaml.replace(env.sandbox.apiUrl, `https://127.0.0.1:${port}`),
    );
    const down = await cli(["--kubeconfig", unreachable, "--json", "ls"]);
    expect(down.code).toBe(3);
    expect(JSON.parse(down.stdout)).toMatchObject({ error: { code: "cluster-unreachable" } });
    expect(JSON.parse(down.stdout).error.message).toContain(`https://127.0.0.1:${port}`);

    const untrusted = join(dir, "untrusted");
    writeFileSync(untrusted, env.sandbox.kubeconfigYaml.replace(/\n\s*certificate-authority-data: \S+/, ""));
    const tls = await cli(["--kubeconfig", untrusted, "--json", "ls"]);
    expect(tls.code).toBe(3);
    expect(JSON.parse(tls.stdout)).toMatchObject({ error: { code: "tls-refused" } });
    expect(JSON.parse(tls.stdout).error.fix).toMatch(/trust the cluster's CA/);
  });
});

describe("kots-backup ls", () => {
  it("prints one JSON array, newest first, and a table on the terminal", async () => {
    env = await openTestCluster();
    const { scenario, clock } = env.sandbox;
    const older = await scenario.addBackup({
      kind: "instance",
      startedAt: new Date(clock.nowMs() - 7_200_000),
    });
    const newer = await scenario.addBackup({
      kind: "app",
      appSlug: "my-app",
      startedAt: new Date(clock.nowMs() - 3_600_000),
    });
    await scenario.addBackup({ kind: "other" });

    const json = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, "--json", "ls"]);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as { name: string }[];
    expect(rows.map((r) => r.name)).toEqual([newer.metadata.name, older.metadata.name]);

    const human = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, "ls", "--app", "my-app"]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+APP\s+STATUS\s+PHASE\s+TRIGGER/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([newer.metadata.name]);
  });

  it("reads the kotsadm namespace from the config and marks scheduled backups from the claims in its destination", async () => {
    env = await openTestCluster({ kotsadmNamespace: "kots" });
    const dir = mkdtempSync(join(tmpdir(), "kb-cli-"));
    const config = join(dir, "kots-backup.yaml");
    writeFileSync(
      config,
      [
        "cluster:",
        "  name: prod",
        `  kubeconfig: ${env.sandbox.kubeconfigPath}`,
        "  kotsadmNamespace: kots",
        "export:",
        `  destination: file://${join(dir, "data")}`,
        "",
      ].join("\n"),
    );
    const { StateStore, slotClaimStore } = await import("@kots-backup/adapters/state/state-store");
    const { LocalFolderStore } = await import("@kots-backup/adapters/store/local-folder");
    const { runBackup } = await import("@kots-backup/core/usecases/index");
    const claims = slotClaimStore(new StateStore(new LocalFolderStore(join(dir, "data"))));
    const slot = env
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const started = (await runBackup(
      { type: "full", trigger: "schedule", schedule: "nightly", slot, wait: false },
      { cluster: env.cluster, claims, emit: () => {}, now: env.now },
    )) as { name: string };

    const { code, stdout } = await cli(["--config", config, "--json", "ls"]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ name: started.name, trigger: "schedule", schedule: "nightly" }),
    ]);
  });
});

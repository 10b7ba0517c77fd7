// `kots-backup export` and `kots-backup config-download` end to end: the CLI against the sandbox
// (kubeconfig → API server, port-forward to kotsadm), into a local folder or the moto peer.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { saveManualKotsConfig } from "@kots-backup/adapters/export/engine";
import "@kots-backup/cli/commands/index";
import { main } from "@kots-backup/cli/program";
import { afterEach, describe, expect, it } from "vitest";
import { captureStreams } from "../backup/support.ts";
import { describeWithMoto, motoEndpoint } from "../support/peers.ts";
import {
  caught,
  type ExportEnv,
  keysOf,
  localDestination,
  motoStore,
  openExportEnv,
  removeTempFolders,
  tempFolder,
} from "./support.ts";

let env: ExportEnv | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
  removeTempFolders();
});

function configFile(config: Record<string, unknown>): string {
  const path = join(tempFolder(), "kots-backup.json");
  writeFileSync(path, JSON.stringify({ cluster: { name: "test" }, ...config }));
  return path;
}

async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe("kots-backup export (CLI)", () => {
  it("--json prints the contract's fields; without export.bsl auto scope exports manifests and says volume data is absent", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-cli01" });
    const folder = tempFolder();
    const config = configFile({ export: { destination: `file://${folder}` } });
    const json = await cli([
      "export",
      "instance-cli01",
      "--json",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(json.stderr).not.toContain("token");
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({
      backup: "instance-cli01",
      scope: "manifests",
      destination: `file://${folder}`,
      manifestKey: "manifests/instance-cli01.json",
      verified: true,
      objects: 5,
      copiedObjects: 5,
      skippedObjects: 0,
      alreadyExported: false,
    });
    for (const field of ["bytes", "copiedBytes"]) expect(typeof result[field]).toBe("number");

    const human = await cli([
      "export",
      "--latest",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("already exported");
    expect(human.stdout).toContain("volume data");
  });

  it("exit 1 with a result saying verified: false when the download is corrupted; exit 2 for a Failed backup", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-cli02" });
    await env.sandbox.scenario.addBackup({ name: "instance-cli03", phase: "Failed" });
    env.sandbox.faults.add({ target: "download", path: ".tar.gz", corrupt: true });
    const folder = tempFolder();
    const config = configFile({ export: { destination: `file://${folder}` } });
    const bad = await cli([
      "export",
      "instance-cli02",
      "--json",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      backup: "instance-cli02",
      verified: false,
      error: { code: "tarball-invalid" },
    });
    expect(bad.stderr, bad.stderr).toContain("Export Failed");
    const failed = await cli([
      "export",
      "instance-cli03",
      "--json",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(failed.code).toBe(2);
    expect(JSON.parse(failed.stdout).error.code).toBe("backup-not-exportable");
  });

  it("config-download --app stores the archive at config/<app>/manual-<stamp>.tar.gz; an unknown app is exit 2", async () => {
    env = await openExportEnv();
    const folder = tempFolder();
    const config = configFile({ export: { destination: `file://${folder}` } });
    const ok = await cli([
      "config-download",
      "--app",
      "my-app",
      "--json",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(ok.code).toBe(0);
    const saved = JSON.parse(ok.stdout);
    expect(saved).toMatchObject({
      app: "my-app",
      key: expect.stringMatching(/^config\/my-app\/manual-\d{8}T\d{6}Z\.tar\.gz$/),
      bytes: expect.any(Number),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(saved.bytes).toBeGreaterThan(0);
    const unknown = await cli([
      "config-download",
      "--app",
      "nope",
      "--json",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(unknown.code).toBe(2);
  });

  it("an empty archive from kotsadm (a refused auth string) is an environment error and stores nothing", async () => {
    env = await openExportEnv();
    const kotsadm = await env.cluster.kotsadm();
    await kotsadm.listApps(); // the client has read the auth string
    const secrets = env.sandbox.registry.byResource("", "secrets");
    env.sandbox.state.mutate(secrets, env.sandbox.namespaces.kotsadm, "kotsadm-authstring", (s) => {
      s.data = { "kotsadm-authstring": Buffer.from("Kots rotated-elsewhere").toString("base64") };
    });
    const dest = localDestination();
    const error = await caught(saveManualKotsConfig(dest, "my-app", (app) => kotsadm.download(app)));
    expect(error.exitCode).toBe(3);
    expect(await keysOf(dest)).toEqual([]);
  });
});

describeWithMoto("kots-backup export (CLI, S3)", () => {
  it("full scope with export.bsl on the same endpoint: server-side copy into s3://bucket/prefix", async () => {
    const bsl = await motoStore("");
    env = await openExportEnv({ store: bsl, bucket: bsl.bucket });
    await env.sandbox.scenario.addBackup({ name: "instance-cli04" });
    const dest = await motoStore("");
    const credentials = {
      accessKeyId: "env:AWS_ACCESS_KEY_ID",
      secretAccessKey: "env:AWS_SECRET_ACCESS_KEY",
    };
    const config = configFile({
      export: {
        destination: `s3://${dest.bucket}/exports/prod`,
        endpoint: motoEndpoint(),
        forcePathStyle: true,
        credentials,
        bsl: {},
      },
    });
    const run = await cli([
      "export",
      "instance-cli04",
      "--json",
      "--config",
      config,
      "--kubeconfig",
      env.sandbox.kubeconfigPath,
    ]);
    expect(run.stderr).not.toContain("testing-secret-key");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      backup: "instance-cli04",
      scope: "full",
      verified: true,
      destination: `s3://${dest.bucket}/exports/prod`,
    });
    expect((await keysOf(dest, "exports/prod/velero/kopia/")).length).toBeGreaterThan(0);
  });
});

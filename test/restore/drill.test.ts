// `kots-backup drill` (offline): an export made by the real export engine from the sandbox (full scope,
// into a local folder) is drilled through the CLI; then each way an export can be unrestorable is made
// on a copy, and the drill must fail naming the check and the cause: a changed object, a tarball entry a
// restore must never trust, a resource list that does not match the tarball, a missing velero-backup.json.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import "@kots-backup/cli/commands/index";
import { main } from "@kots-backup/cli/program";
import { manifestKey, veleroBackupKeys } from "@kots-backup/core/export-layout";
import { readDrillRuns } from "@kots-backup/core/usecases/drill-runs";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureStreams } from "../backup/support.ts";
import { type ExportEnv, openExportEnv, removeTempFolders, tempFolder } from "../export/support.ts";

const BACKUP = "instance-drill1";
let env: ExportEnv;
let exported: string;

/** A copy of the verified export, to damage. */
function copyOfExport(): string {
  const folder = tempFolder();
  cpSync(exported, folder, { recursive: true });
  return folder;
}

async function drill(folder: string, ...args: string[]) {
  const config = join(tempFolder(), "kots-backup.json");
  writeFileSync(
    config,
    JSON.stringify({ cluster: { name: "test" }, export: { destination: `file://${folder}` } }),
  );
  const io = captureStreams();
  const code = await main(["drill", "--json", "--config", config, ...args], io.streams);
  return { code, report: JSON.parse(io.stdout() || "{}"), stderr: io.stderr() };
}

/** Rewrites an exported object and its manifest entry (a damage the checksums cannot see). */
async function replaceWithManifest(folder: string, key: string, body: Buffer): Promise<void> {
  const store = new LocalFolderStore(folder);
  await store.put(key, body);
  const manifestPath = join(folder, manifestKey(BACKUP));
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const { createHash } = await import("node:crypto");
  for (const object of manifest.objects) {
    if (object.key === key) {
      object.size = body.length;
      object.sha256 = createHash("sha256").update(body).digest("hex");
    }
  }
  await store.put(manifestKey(BACKUP), JSON.stringify(manifest));
}

async function tarball(
  entries: Array<{ name: string; body?: string; type?: "file" | "symlink"; linkname?: string }>,
) {
  const archive = pack();
  for (const e of entries) {
    if (e.type === "symlink")
      archive.entry({ name: e.name, type: "symlink", linkname: e.linkname ?? "/etc/passwd" });
    else archive.entry({ name: e.name }, e.body ?? "");
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const configMap = JSON.stringify({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "cm", namespace: "app" },
});

beforeAll(async () => {
  env = await openExportEnv();
  await env.sandbox.scenario.addBackup({ name: BACKUP });
  exported = tempFolder();
  await env.run({ backup: BACKUP, scope: "full" }, new LocalFolderStore(exported));
});
afterAll(async () => {
  await env?.stop();
  removeTempFolders();
});

describe("kots-backup drill (offline)", () => {
  it("passes on a verified export, one result per backup with its time", async () => {
    const { code, report } = await drill(exported);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.results).toEqual([
      expect.objectContaining({
        backup: BACKUP,
        ok: true,
        scope: "full",
        checks: ["manifest", "checksums", "backup", "tarball", "resource-list"].map((name) =>
          expect.objectContaining({ name, ok: true }),
        ),
        durationMs: expect.any(Number),
      }),
    ]);
  });

  it("fails on an object changed after the export, naming it", async () => {
    const folder = copyOfExport();
    const key = veleroBackupKeys(BACKUP).contents;
    const path = join(folder, key);
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const { code, report } = await drill(folder);
    expect(code).toBe(1);
    expect(report.results[0]).toMatchObject({ ok: false, cause: expect.stringContaining(key) });
    expect(report.results[0].checks.at(-1)).toMatchObject({ name: "checksums", ok: false });
    // The run is recorded at the destination for the `drill` check and `status`.
    const runs = await readDrillRuns(new LocalFolderStore(folder));
    expect(runs[0]).toMatchObject({
      ok: false,
      results: [{ backup: BACKUP, ok: false, cause: expect.stringContaining(key) }],
    });
  });

  it("fails on a tarball entry a restore must never trust, even with matching checksums", async () => {
    const folder = copyOfExport();
    const body = await tarball([
      { name: "metadata/version", body: "1.1.0" },
      { name: "resources/configmaps/namespaces/app/cm.json", body: configMap },
      { name: "resources/configmaps/namespaces/app/evil.json", type: "symlink" },
    ]);
    await replaceWithManifest(folder, veleroBackupKeys(BACKUP).contents, body);
    const { code, report } = await drill(folder, "--backup", BACKUP);
    expect(code).toBe(1);
    expect(report.results[0].checks.at(-1)).toMatchObject({ name: "tarball", ok: false });
    expect(report.results[0].cause).toContain("evil.json");
  });

  it("fails when the tarball's items are not the backup's resource list", async () => {
    const folder = copyOfExport();
    const keys = veleroBackupKeys(BACKUP);
    const listed = JSON.parse(gunzipSync(readFileSync(join(folder, keys.resourceList))).toString());
    listed["v1/Secret"] = [...(listed["v1/Secret"] ?? []), "app/not-in-the-tarball"];
    await replaceWithManifest(folder, keys.resourceList, gzipSync(JSON.stringify(listed)));
    const { code, report } = await drill(folder);
    expect(code).toBe(1);
    expect(report.results[0].checks.at(-1)).toMatchObject({ name: "resource-list", ok: false });
    expect(report.results[0].cause).toContain("v1/Secret app/not-in-the-tarball");
  });

  it("fails when velero-backup.json is gone (Velero would not even list the backup)", async () => {
    const folder = copyOfExport();
    await new LocalFolderStore(folder).delete(veleroBackupKeys(BACKUP).metadata);
    const { code, report } = await drill(folder);
    expect(code).toBe(1);
    expect(report.results[0].cause).toContain("velero-backup.json");
  });

  it("status lists the last drill runs (time, outcome, duration) and the drill check, with drill: set", async () => {
    const folder = copyOfExport();
    // Only this test's runs (the copy holds the runs of the drills of the original).
    for (const run of readdirSync(join(folder, "state/drills"))) rmSync(join(folder, "state/drills", run));
    expect((await drill(folder)).code).toBe(0);
    await new LocalFolderStore(folder).delete(veleroBackupKeys(BACKUP).metadata);
    expect((await drill(folder)).code).toBe(1);
    const config = join(tempFolder(), "kots-backup.json");
    writeFileSync(
      config,
      JSON.stringify({
        cluster: { name: "test" },
        export: { destination: `file://${folder}` },
        drill: { schedule: "0 5 * * *" },
      }),
    );
    const status = async (json: boolean) => {
      const io = captureStreams();
      const args = ["status", ...(json ? ["--json"] : []), "--config", config];
      await main([...args, "--kubeconfig", env.sandbox.kubeconfigPath], io.streams);
      return io.stdout();
    };
    const report = JSON.parse(await status(true));
    expect(report.drills).toEqual([
      {
        at: expect.any(String),
        ok: false,
        durationMs: expect.any(Number),
        failed: [{ backup: BACKUP, cause: expect.stringContaining("velero-backup.json") }],
      },
      { at: expect.any(String), ok: true, durationMs: expect.any(Number), failed: [] },
    ]);
    expect(report.checks).toEqual([
      expect.objectContaining({ name: "drill", state: "down", reasons: ["drill-failed"] }),
    ]);
    const text = await status(false);
    expect(text).toContain("\nRESTORE DRILLS (newest first)\n");
    expect(text).toMatch(/durations, oldest → newest: \d+\.\d s → \d+\.\d s/);
  });

  it("exits 1 with nothing to drill, and 2 on a bad --backup before reading anything", async () => {
    expect((await drill(tempFolder())).code).toBe(1);
    const bad = await drill(exported, "--backup", "../etc");
    expect(bad.code).toBe(2);
    expect(bad.report.error).toMatchObject({ code: "invalid-name", field: "--backup" });
  });
});

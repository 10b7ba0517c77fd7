// Shared set-up for the export integration tests: the sandbox cluster (reached through client-node),
// its BSL (a MemoryStore, or an S3Store on the moto peer), and destinations (local folder, moto).
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import {
  type ExportDeps,
  type ExportRequest,
  type ExportResult,
  exportBackup,
  readManifest,
} from "@kots-backup/adapters/export/engine";
import { KubeDownloadSource } from "@kots-backup/adapters/kube/download-request";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { checkVeleroTarball } from "@kots-backup/adapters/tarball";
import type { ObjectStore } from "@kots-backup/core";
import type { SandboxOptions } from "@kots-backup/sandbox";
import { loadCrds } from "@kots-backup/sandbox/k8s/crds";
import { expect } from "vitest";
import { openTestCluster, type TestCluster } from "../backup/support.ts";
import { motoS3, uniqueBucketName } from "../support/peers.ts";

export interface ExportEnv extends TestCluster {
  downloads: KubeDownloadSource;
  /** Deps for exportBackup with `destination` and the sandbox BSL as the full-scope source. */
  deps(destination: ObjectStore, extra?: Partial<ExportDeps>): ExportDeps;
  run(request: ExportRequest, destination: ObjectStore, extra?: Partial<ExportDeps>): Promise<ExportResult>;
}

export async function openExportEnv(options: SandboxOptions = {}): Promise<ExportEnv> {
  const t = await openTestCluster(options);
  const downloads = new KubeDownloadSource(t.cluster.api, t.sandbox.namespaces.velero, { pollMs: 5 });
  const deps = (destination: ObjectStore, extra: Partial<ExportDeps> = {}): ExportDeps => ({
    cluster: t.cluster,
    destination,
    veleroNamespace: t.sandbox.namespaces.velero,
    bsl: { name: "default", location: t.sandbox.store.location },
    source: { store: t.sandbox.store },
    downloads,
    emit: t.emit,
    now: t.now,
    ...extra,
  });
  return {
    ...t,
    downloads,
    deps,
    run: (request, destination, extra) => exportBackup(request, deps(destination, extra)),
  };
}

const folders: string[] = [];
export function tempFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "kb-export-"));
  folders.push(dir);
  return dir;
}
export function removeTempFolders(): void {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function localDestination(): LocalFolderStore {
  return new LocalFolderStore(tempFolder());
}

/** A fresh moto bucket; `prefix` inside it. */
export async function motoStore(prefix = ""): Promise<S3Store> {
  const client = motoS3();
  const bucket = uniqueBucketName("kbx");
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return new S3Store({ bucket, prefix, client });
}

/** Makes the next backups' tarballs large: `count` ConfigMaps of `bytes` incompressible characters. */
export function addBulkyConfigMaps(env: TestCluster, count: number, bytes: number): void {
  const type = env.sandbox.registry.byResource("", "configmaps");
  for (let i = 0; i < count; i++) {
    env.sandbox.state.create(
      type,
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `bulk-${i}`, labels: { "kots.io/backup": "velero" } },
        data: { blob: randomBytes(Math.ceil(bytes * 0.75)).toString("base64") },
      },
      env.sandbox.namespaces.kotsadm,
    );
  }
}

export async function readAll(store: ObjectStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function keysOf(store: ObjectStore, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

export async function caught(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; exitCode?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; exitCode?: number };
  }
  throw new Error("expected a failure");
}

/** Reads `<p>/velero/` back as Velero would, and every manifest checksum against the stored bytes. */
export async function readBackAsBsl(dest: ObjectStore, name: string): Promise<void> {
  const top = new Set((await keysOf(dest, "velero/")).map((k) => k.split("/")[1]));
  for (const folder of top)
    expect(["backups", "restores", "restic", "kopia", "metadata", "plugins"]).toContain(folder);
  const backupJson = JSON.parse(
    (await readAll(dest, `velero/backups/${name}/velero-backup.json`)).toString("utf8"),
  );
  const crds = loadCrds();
  const backupType = crds.types.find((t) => t.plural === "backups" && t.group === "velero.io");
  expect(backupType).toBeDefined();
  expect(() => crds.validate(backupType!, backupJson)).not.toThrow();
  expect(backupJson).toMatchObject({
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: { name },
    status: { phase: "Completed" },
  });
  const tarball = await checkVeleroTarball(await dest.get(`velero/backups/${name}/${name}.tar.gz`));
  expect(tarball.problems).toEqual([]);
  expect(tarball.ok).toBe(true);
  expect(tarball.formatVersion).toBe("1.1.0");
  const manifest = await readManifest(dest, `manifests/${name}.json`);
  expect(manifest).toBeDefined();
  for (const object of manifest!.objects) {
    const bytes = await readAll(dest, object.key);
    expect({
      key: object.key,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    }).toEqual(object);
  }
}

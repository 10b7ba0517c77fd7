// A minimal Velero backup in a BSL prefix (velero-backup.json + a small valid `<name>.tar.gz`), and the
// Velero with `checksumAlgorithm: SHA256` writes them: S3 states their full-object SHA-256. And the
// few cluster calls the export engine makes, answered from memory: the benchmarks measure the object
// path, not the Kubernetes API.
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ExportDeps } from "@kots-backup/adapters/export/engine";
import { BackupAnnotation, type VeleroBackup } from "@kots-backup/core/velero";
import { createTarGz } from "@kots-backup/sandbox/tar";

export function benchBackup(name: string, at = new Date("2026-01-01T02:00:00Z")): VeleroBackup {
  return {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: {
      name,
      namespace: "velero",
      annotations: {
        [BackupAnnotation.instance]: "true",
        [BackupAnnotation.kotsadmNamespace]: "kotsadm",
        [BackupAnnotation.requested]: at.toISOString(),
      },
    },
    spec: { storageLocation: "default" },
    status: {
      phase: "Completed",
      formatVersion: "1.1.0",
      startTimestamp: at.toISOString(),
      completionTimestamp: new Date(at.getTime() + 60_000).toISOString(),
    },
  };
}

/** The backup's own objects: what `backups/<name>/` holds at least (plus a small resource tarball). */
export async function writeBackupObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  backup: VeleroBackup,
): Promise<{ tarballBytes: number }> {
  const name = backup.metadata.name;
  const item = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "bench", namespace: "kotsadm" },
    data: { a: "b" },
  };
  const tarball = await createTarGz(
    [
      { name: "metadata/version", body: "1.1.0\n" },
      { name: "resources/configmaps/namespaces/kotsadm/bench.json", body: JSON.stringify(item), mode: 0o755 },
      {
        name: "resources/configmaps/v1-preferredversion/namespaces/kotsadm/bench.json",
        body: JSON.stringify(item),
        mode: 0o755,
      },
    ],
    new Date("2026-01-01T02:00:00Z"),
  );
  const base = `${prefix}backups/${name}/`;
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${base}velero-backup.json`,
      Body: JSON.stringify(backup),
      ChecksumAlgorithm: "SHA256",
    }),
  );
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${base}${name}.tar.gz`,
      Body: tarball,
      ChecksumAlgorithm: "SHA256",
    }),
  );
  return { tarballBytes: tarball.length };
}

/** The cluster as the engine sees it: these backups, no apps. */
export function benchCluster(backups: readonly VeleroBackup[]): ExportDeps["cluster"] {
  return {
    name: "bench",
    kotsadmNamespace: "kotsadm",
    getBackup: async (name: string) => backups.find((b) => b.metadata.name === name),
    listBackups: async () => [...backups],
    listApps: async () => [],
  };
}

// Velero's object-store keys (velero pkg/persistence/object_store_layout.go), relative to the BSL prefix.

export const backupKeys = (name: string) => {
  const dir = `backups/${name}`;
  return {
    metadata: `${dir}/velero-backup.json`,
    contents: `${dir}/${name}.tar.gz`,
    log: `${dir}/${name}-logs.gz`,
    results: `${dir}/${name}-results.gz`,
    resourceList: `${dir}/${name}-resource-list.json.gz`,
    podVolumeBackups: `${dir}/${name}-podvolumebackups.json.gz`,
    volumeSnapshots: `${dir}/${name}-volumesnapshots.json.gz`,
    itemOperations: `${dir}/${name}-itemoperations.json.gz`,
    volumeInfo: `${dir}/${name}-volumeinfo.json.gz`,
    csiVolumeSnapshots: `${dir}/${name}-csi-volumesnapshots.json.gz`,
    csiVolumeSnapshotContents: `${dir}/${name}-csi-volumesnapshotcontents.json.gz`,
  };
};

const restoreKeys = (name: string) => {
  const dir = `restores/${name}`;
  return {
    log: `${dir}/restore-${name}-logs.gz`,
    results: `${dir}/restore-${name}-results.gz`,
    resourceList: `${dir}/restore-${name}-resource-list.json.gz`,
    itemOperations: `${dir}/restore-${name}-itemoperations.json.gz`,
    volumeInfo: `${dir}/${name}-volumeinfo.json.gz`,
  };
};

/** DownloadRequest `spec.target.kind` → object key; undefined for kinds the sandbox does not know. */
export function downloadKey(
  kind: string,
  name: string,
): { key: string; of: "backup" | "restore" } | undefined {
  const b = backupKeys(name);
  const r = restoreKeys(name);
  const table: Record<string, [string, "backup" | "restore"]> = {
    BackupContents: [b.contents, "backup"],
    BackupLog: [b.log, "backup"],
    BackupResults: [b.results, "backup"],
    BackupResourceList: [b.resourceList, "backup"],
    BackupVolumeSnapshots: [b.volumeSnapshots, "backup"],
    BackupItemOperations: [b.itemOperations, "backup"],
    BackupVolumeInfos: [b.volumeInfo, "backup"],
    CSIBackupVolumeSnapshots: [b.csiVolumeSnapshots, "backup"],
    CSIBackupVolumeSnapshotContents: [b.csiVolumeSnapshotContents, "backup"],
    RestoreLog: [r.log, "restore"],
    RestoreResults: [r.results, "restore"],
    RestoreResourceList: [r.resourceList, "restore"],
    RestoreItemOperations: [r.itemOperations, "restore"],
    RestoreVolumeInfo: [r.volumeInfo, "restore"],
  };
  const entry = table[kind];
  return entry ? { key: entry[0], of: entry[1] } : undefined;
}

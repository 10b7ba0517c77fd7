// Retention at the destination: which exports and KOTS config archives become expirable is core's
// (core/retention.ts); this reads the manifests, lists the archives and sets the tags.
import type { ObjectStore } from "@kots-backup/core";
import {
  backupNameOfManifestKey,
  CONFIG_ROOT,
  type ExportManifest,
  MANIFESTS_ROOT,
} from "@kots-backup/core/export-layout";
import {
  EXPIRABLE_TAG,
  expirableConfigArchives,
  expirableExports,
  type StoredConfigArchive,
} from "@kots-backup/core/retention";
import type { ExportLog } from "./engine.ts";
import { readManifest } from "./manifest-store.ts";

/**
 * Tags `kots-backup/expirable=true` on the exports beyond the newest `keepLast` verified ones of their
 * kind (the backup's `velero/backups/<name>/` objects, best effort, and its manifest), then on each
 * app's config archives beyond its newest `keepLast` that no kept export names. Returns the exports.
 */
export async function applyRetention(dest: ObjectStore, keepLast: number, log: ExportLog): Promise<string[]> {
  const manifests: ExportManifest[] = [];
  for await (const info of dest.list(MANIFESTS_ROOT)) {
    if (!backupNameOfManifestKey(info.key)) continue;
    const manifest = await readManifest(dest, info.key);
    if (manifest) manifests.push(manifest);
  }
  const expirable = expirableExports(manifests, keepLast);
  const tag = { [EXPIRABLE_TAG.key]: EXPIRABLE_TAG.value };
  for (const entry of expirable) {
    for (const key of entry.objectKeys) await dest.setTags(key, tag).catch(() => {});
    await dest.setTags(entry.manifestKey, tag);
  }
  const backups = expirable.map((entry) => entry.backup);
  if (backups.length > 0)
    log("info", "exports tagged expirable (older than the newest verified ones kept)", { exports: backups });

  const archives: StoredConfigArchive[] = [];
  for await (const info of dest.list(CONFIG_ROOT))
    archives.push({ key: info.key, ...(info.lastModified ? { savedAt: info.lastModified } : {}) });
  const configs = expirableConfigArchives(archives, manifests, keepLast);
  for (const key of configs) await dest.setTags(key, tag);
  if (configs.length > 0)
    log("info", "KOTS config archives tagged expirable (older than the newest kept per app)", {
      archives: configs,
    });
  return backups;
}

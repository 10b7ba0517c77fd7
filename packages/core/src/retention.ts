// Which exports may be tagged `kots-backup/expirable=true` (and so be tiered and expired by the
// bucket's lifecycle rules, see bucket-policy.ts). The rule: never the newest `keepLast` verified
// exports of each kind (full, or partial per app), so that hourly app backups cannot push the last
// full disaster-recovery copies out. Unverified exports are never tagged: nothing proves the newer
// copies are good, so a person decides (doctor reports them). The KOTS config archives follow the
// same count per app (expirableConfigArchives).
import type { BackupType } from "./backups.ts";
import { isBackupObject } from "./export/plan.ts";
import { configArchiveOfKey, type ExportManifest, manifestKey } from "./export-layout.ts";

export const EXPIRABLE_TAG = { key: "kots-backup/expirable", value: "true" } as const;

export interface RetainedExport {
  backup: string;
  type: BackupType;
  app?: string;
  /** RFC 3339 UTC completion time of the backup (orders exports newest first). */
  completedAt: string;
  verified: boolean;
}

export interface RetentionPlan {
  /** Exports to tag expirable. */
  expirable: string[];
  /** Exports to keep untagged (newest verified of their kind, or unverified). */
  keep: string[];
}

const kindOf = (e: RetainedExport) => (e.type === "full" ? "full" : `partial/${e.app ?? ""}`);

export function planRetention(exports: readonly RetainedExport[], keepLast: number): RetentionPlan {
  const plan: RetentionPlan = { expirable: [], keep: [] };
  const byKind = new Map<string, RetainedExport[]>();
  for (const e of exports) {
    if (!e.verified) {
      plan.keep.push(e.backup);
      continue;
    }
    const list = byKind.get(kindOf(e)) ?? [];
    list.push(e);
    byKind.set(kindOf(e), list);
  }
  for (const list of byKind.values()) {
    list.sort(
      (a, b) => Date.parse(b.completedAt) - Date.parse(a.completedAt) || (a.backup < b.backup ? 1 : -1),
    );
    for (const [index, e] of list.entries())
      (index < Math.max(1, keepLast) ? plan.keep : plan.expirable).push(e.backup);
  }
  return plan;
}

/** What retention tags on an export: the backup's own objects and its manifest. */
export interface ExpirableExport {
  backup: string;
  /** The backup's objects under `velero/backups/<name>/` (repository blobs are shared: never tagged). */
  objectKeys: string[];
  manifestKey: string;
}

/**
 * Retention over the verified exports at the destination (their manifests): the exports beyond the
 * newest `keepLast` of their kind, and the keys to tag on each.
 */
export function expirableExports(manifests: readonly ExportManifest[], keepLast: number): ExpirableExport[] {
  const plan = planOfManifests(manifests, keepLast);
  const expirable: ExpirableExport[] = [];
  for (const backup of plan.expirable) {
    const manifest = manifests.find((m) => m.backup === backup);
    if (!manifest) continue;
    expirable.push({
      backup,
      objectKeys: manifest.objects.map((o) => o.key).filter((key) => isBackupObject(key, backup)),
      manifestKey: manifestKey(backup),
    });
  }
  return expirable;
}

function planOfManifests(manifests: readonly ExportManifest[], keepLast: number): RetentionPlan {
  return planRetention(
    manifests.map((m) => ({
      backup: m.backup,
      type: m.type,
      ...(m.app ? { app: m.app } : {}),
      completedAt: m.completedAt ?? m.exportedAt,
      verified: true,
    })),
    keepLast,
  );
}

/** A KOTS config archive at the destination, as listed. */
export interface StoredConfigArchive {
  key: string;
  /** When the store wrote it; without it the archive's age is unknown and it is never tagged. */
  savedAt?: Date;
}

/**
 * The config archives (`config/<app>/<name>.tar.gz`) to tag expirable: per app, those older than the
 * newest `keepLast` saved, except the archive of an export retention keeps (`config/<app>/<backup>.tar.gz`),
 * so that a stream of app exports cannot leave the kept full exports without their app's config.
 */
export function expirableConfigArchives(
  archives: readonly StoredConfigArchive[],
  manifests: readonly ExportManifest[],
  keepLast: number,
): string[] {
  const keptExports = new Set(planOfManifests(manifests, keepLast).keep);
  const byApp = new Map<string, Array<{ key: string; name: string; savedAt: number }>>();
  for (const { key, savedAt } of archives) {
    const archive = configArchiveOfKey(key);
    if (!archive || !savedAt) continue;
    const list = byApp.get(archive.app) ?? [];
    list.push({ key, name: archive.name, savedAt: savedAt.getTime() });
    byApp.set(archive.app, list);
  }
  const expirable: string[] = [];
  for (const list of byApp.values()) {
    list.sort((a, b) => b.savedAt - a.savedAt || (a.key < b.key ? 1 : -1));
    for (const [index, archive] of list.entries())
      if (index >= Math.max(1, keepLast) && !keptExports.has(archive.name)) expirable.push(archive.key);
  }
  return expirable;
}

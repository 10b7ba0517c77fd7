// The export plan: which objects the export of one backup consists of, in each scope, and the order
// they are written in. Pure: the adapters list, copy, hash and verify (adapters/src/export).
//
//   full       every object of the BSL's `backups/<name>/`, plus the file-system-backup repositories
//              `kopia/…`, `restic/…`, each at the same key under `velero/` (export-layout.ts).
//   manifests  a DownloadRequest per file kind, and velero-backup.json from the Backup read from the API.
//
// Write order: Velero's BSL sync lists a backup by `backups/<name>/velero-backup.json`, so an export
// must not look restorable before it is whole:
//   1. `objects`, a few at a time: the repository blobs first, then the backup's other objects (a
//      crash mid-mirror then leaves the fewest objects of the backup behind);
//   2. `veleroBackup`, alone, once every object of step 1 verified;
//   3. the manifest (manifest.ts), last.
// After a failure, `withdrawalOrder` undoes it from the front: velero-backup.json first.
import { ProblemError } from "../errors.ts";
import {
  bslKeyOf,
  exportedKey,
  isAllowedKey,
  REPOSITORY_PREFIXES,
  VELERO_ROOT,
  veleroBackupKeys,
  veleroBackupPrefix,
} from "../export-layout.ts";
import type { ObjectInfo } from "../ports.ts";
import type { VeleroBackup } from "../velero.ts";

export type ExportScope = "full" | "manifests";

/** The files the manifests scope fetches with DownloadRequests, and where each is written. */
export const DOWNLOAD_KINDS = [
  { kind: "BackupContents", key: "contents" },
  { kind: "BackupLog", key: "log" },
  { kind: "BackupResults", key: "results" },
  { kind: "BackupResourceList", key: "resourceList" },
] as const satisfies ReadonlyArray<{ kind: string; key: keyof ReturnType<typeof veleroBackupKeys> }>;
export type DownloadKind = (typeof DOWNLOAD_KINDS)[number]["kind"];

/** An object of the source BSL, copied to `destKey`. */
export interface BslObject {
  from: "bsl";
  sourceKey: string;
  destKey: string;
  size: number;
  /** Repository blobs (kopia/restic): the source version listed, for the mirror index. */
  repository?: { sourceEtag: string };
}

/** A file of the backup fetched with a DownloadRequest of `kind` (manifests scope). */
export interface DownloadedObject {
  from: "download";
  kind: DownloadKind;
  destKey: string;
}

/** velero-backup.json written from the Backup read from the API (manifests scope): backupDocument. */
export interface ApiObject {
  from: "api";
  destKey: string;
}

export type PlannedObject = BslObject | DownloadedObject | ApiObject;

/** A source object the export does not copy: its key in the BSL, and why. */
export interface SkippedObject {
  key: string;
  reason: string;
}

export interface ExportPlan {
  scope: ExportScope;
  /** Step 1, in this order: the repository blobs, then the backup's objects but velero-backup.json. */
  objects: PlannedObject[];
  /** Step 2: velero-backup.json, written alone once every object of step 1 verified. */
  veleroBackup: PlannedObject;
  /** Repository objects left out because their key cannot be copied (warned, and in the manifest). */
  skipped: SkippedObject[];
  /** Objects the export writes (steps 1 and 2). */
  totalObjects: number;
  /** Their bytes, when known before copying (full scope: the listed sizes). */
  totalBytes?: number;
}

/** What the full scope lists in the source BSL: the backup's folder, and the repositories. */
export function fullScopeSources(name: string): { backup: string; repositories: string[] } {
  return { backup: bslKeyOf(veleroBackupPrefix(name)), repositories: REPOSITORY_PREFIXES.map(bslKeyOf) };
}

/** The source object whose presence says a backup can be exported in full scope. */
export function fullScopeProbe(name: string): string {
  return bslKeyOf(veleroBackupKeys(name).metadata);
}

/**
 * The full scope's plan from the source listings (`backup`: the backup's folder, `repositories`: the
 * repository folders, in fullScopeSources' order). `uncopyable` says why a source key cannot be
 * copied to its destination key (not a valid object key, or one the destination cannot store).
 * Such an object in the backup's own folder fails the export before anything is written: the copy
 * would not be the whole backup. One in a repository is skipped: kopia and restic name their blobs by
 * content hash (short, plain names), so neither reads an object under such a key.
 */
export function planFullScope(
  name: string,
  listing: { backup: readonly ObjectInfo[]; repositories: readonly ObjectInfo[] },
  uncopyable: (sourceKey: string, destKey: string) => string | undefined,
): ExportPlan {
  const fromBsl = (info: ObjectInfo): BslObject => ({
    from: "bsl",
    sourceKey: info.key,
    destKey: exportedKey(info.key),
    size: info.size,
  });
  const listed: BslObject[] = [
    ...listing.repositories.map((info) => ({ ...fromBsl(info), repository: { sourceEtag: info.etag } })),
    ...listing.backup.map(fromBsl),
  ];
  const planned: BslObject[] = [];
  const skipped: SkippedObject[] = [];
  for (const item of listed) {
    const reason = uncopyable(item.sourceKey, item.destKey);
    if (reason === undefined) planned.push(item);
    else if (item.repository) skipped.push({ key: item.sourceKey, reason });
    else {
      throw new ProblemError(
        "source-key-invalid",
        `backup ${name} holds an object that cannot be exported, ${JSON.stringify(item.sourceKey)}: ${reason}; without it the copy would not be the whole backup, so nothing was written`,
        {
          fix: "remove or rename that object in the BSL (Velero never writes such a key), or export with --scope manifests",
        },
      );
    }
  }
  checkLayout(planned);
  const keys = veleroBackupKeys(name);
  const veleroBackup = planned.find((p) => p.destKey === keys.metadata);
  if (!veleroBackup) {
    throw new ProblemError(
      "backup-incomplete",
      `backup ${name} has no velero-backup.json in the BSL: Velero could not restore it`,
      { fix: "check the backup with `velero backup describe --details`" },
    );
  }
  if (!planned.some((p) => p.destKey === keys.contents)) {
    throw new ProblemError("backup-incomplete", `backup ${name} has no resource tarball (${name}.tar.gz)`, {
      fix: "check the backup with `velero backup describe --details`",
    });
  }
  return {
    scope: "full",
    objects: planned.filter((p) => p !== veleroBackup),
    veleroBackup,
    skipped,
    totalObjects: planned.length,
    totalBytes: planned.reduce((sum, p) => sum + p.size, 0),
  };
}

/** The manifests scope's plan: the DownloadRequest files, then velero-backup.json from the API. */
export function planManifestsScope(name: string): ExportPlan {
  const keys = veleroBackupKeys(name);
  const objects = DOWNLOAD_KINDS.map(({ kind, key }) => ({
    from: "download" as const,
    kind,
    destKey: keys[key],
  }));
  checkLayout(objects);
  return {
    scope: "manifests",
    objects,
    veleroBackup: { from: "api", destKey: keys.metadata },
    skipped: [],
    totalObjects: objects.length + 1,
  };
}

/** Nothing is written outside `velero/` or at its top except Velero's own folders. */
function checkLayout(objects: readonly PlannedObject[]): void {
  for (const item of objects) {
    if (!isAllowedKey(item.destKey) || !item.destKey.startsWith(VELERO_ROOT)) {
      throw new ProblemError(
        "export-layout",
        `refusing to write ${item.destKey}: not an allowed key under ${VELERO_ROOT}`,
        { fix: "the source BSL holds an object outside Velero's layout; report it" },
      );
    }
  }
}

/** Whether `key` is one of backup `name`'s own objects (not a shared repository blob). */
export function isBackupObject(key: string, name: string): boolean {
  return key.startsWith(veleroBackupPrefix(name));
}

/**
 * What a failed export removes, in order, so that nothing looks like a restorable backup: Velero
 * lists a backup by velero-backup.json, so that goes first, whoever wrote it (without a manifest
 * nothing vouches for the rest); then the backup's other objects this run wrote (`wrote`). Repository
 * blobs stay: each was verified on its own, they are shared between backups, and the mirror index
 * lets the next run skip them.
 */
export function withdrawalOrder(name: string, wrote: readonly string[]): string[] {
  const metadata = veleroBackupKeys(name).metadata;
  return [metadata, ...wrote.filter((key) => key !== metadata && isBackupObject(key, name))];
}

/** velero-backup.json as Velero persists it: the Backup API object without server-side bookkeeping. */
export function backupDocument(backup: VeleroBackup): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(backup)) as Record<string, unknown> & {
    metadata: Record<string, unknown>;
  };
  delete copy.metadata.managedFields;
  return { apiVersion: "velero.io/v1", kind: "Backup", ...copy };
}

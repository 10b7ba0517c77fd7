// The export engine (issue #5): copies one finished Velero backup off the cluster into the export
// destination's layout (contract §6, core/export-layout.ts), verifies every object (integrity.ts),
// and only then writes `<p>/manifests/<name>.json`, last.
//
//   full       every object under the BSL's `backups/<name>/` → `velero/backups/<name>/`, plus the
//              file-system-backup repositories `kopia/…`, `restic/…` → `velero/kopia/…`, mirrored
//              incrementally (objects already there with the same size and SHA-256 are skipped).
//              Same endpoint and account: server-side copy; otherwise streamed GET → (multipart) PUT.
//   manifests  when the BSL cannot be read directly: a DownloadRequest per file kind, streamed from
//              Velero's signed URL (re-requested when it expired), and velero-backup.json written from
//              the Backup read from the API. No volume data; the manifest says so.
//
// Write order: repository blobs and the backup's other objects first, then `velero-backup.json` (Velero
// lists a backup by it), then the manifest; after a failure `velero-backup.json` is removed first
// (integrity.ts states the rule; withdraw below).
//
// Guarantees: memory flat in backup size (streams, bounded concurrency; the stores bound part sizes);
// source objects are only read; a failure writes no manifest, aborts its multipart uploads (the
// stores do), removes any destination object that failed its check and what withdraw removes, and is
// emitted as `Export Failed`; a verified export (valid manifest present) is never redone or
// overwritten; nothing is written at the top of `velero/` except Velero's own folders; a source
// object whose key cannot be copied fails the export before any write when it is the backup's own,
// and is skipped (warned, listed in the manifest) when it is in a repository.
import type { Readable } from "node:stream";
import { isDeepStrictEqual } from "node:util";
import {
  DetailType,
  dedupKey,
  EnvironmentError,
  InputError,
  isKotsBackupError,
  type KotsBackupEvent,
  type KotsCluster,
  type ObjectInfo,
  type ObjectStore,
  ProblemError,
  type ServerSideCopyOptions,
  type WrittenObject,
} from "@kots-backup/core";
import {
  BackupType,
  isInstanceBackup,
  requestedAtOf,
  listBackups as summarizeBackups,
} from "@kots-backup/core/backups";
import {
  type MirrorEntry,
  type MirrorIndex,
  parseMirrorIndex,
  unchangedSinceVerified,
} from "@kots-backup/core/export/mirror-index";
import {
  backupNameOfManifestKey,
  configKey,
  type ExportManifest,
  isAllowedKey,
  MANIFESTS_ROOT,
  type ManifestObject,
  manifestKey,
  manualConfigKey,
  mirrorIndexKey,
  parseManifest,
  VELERO_ROOT,
  veleroBackupKeys,
  veleroBackupPrefix,
} from "@kots-backup/core/export-layout";
import { EXPIRABLE_TAG, planRetention, type RetainedExport } from "@kots-backup/core/retention";
import { newestToExport } from "@kots-backup/core/usecases/reconcile";
import { BackupAnnotation, phaseOf, type VeleroBackup, VeleroPhase } from "@kots-backup/core/velero";
import {
  type DownloadSource,
  type DownloadTargetKind,
  DownloadUrlExpiredError,
  type SignedDownload,
} from "../kube/download-request.ts";
import { ChecksumMismatchError } from "../store/errors.ts";
import { keyProblem } from "../store/keys.ts";
import { contentCheckFor, expectedOf, metered, statedOrHashed, verifyOrRemove } from "./integrity.ts";

export type ExportScopeChoice = "auto" | "full" | "manifests";

export interface ExportRequest {
  /** The Velero Backup's name; or `latest: true` for the newest Completed backup of `type` (and `app`). */
  backup?: string;
  latest?: boolean;
  /** With `latest`: full (default) or partial; a partial one names its app (core's latestKindOf). */
  type?: BackupType;
  app?: string;
  scope?: ExportScopeChoice;
  includePartiallyFailed?: boolean;
  /** Newest verified exports never tagged expirable (default 3). */
  keepLast?: number;
  /** Apps whose KOTS config archive is saved after the export (`config/<app>/<backup>.tar.gz`). */
  configApps?: readonly string[];
  /** The kots-backup schedule this export belongs to, for the event's dedup key. */
  schedule?: string;
}

/** The BSL, readable directly with configured credentials (full scope). Keys relative to its prefix. */
export interface ExportSource {
  store: ObjectStore;
}

export interface ExportProgress {
  phase: "copy" | "verify";
  doneBytes: number;
  /** Undefined while unknown (manifests scope before each download starts). */
  totalBytes?: number;
  doneObjects: number;
  totalObjects: number;
}

export type ExportLog = (
  level: "info" | "warn" | "error",
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface ExportDeps {
  cluster: Pick<KotsCluster, "name" | "kotsadmNamespace" | "getBackup" | "listBackups" | "listApps">;
  destination: ObjectStore;
  veleroNamespace?: string;
  /** The source BSL's name and `s3://bucket/prefix` (no credentials), for the manifest. */
  bsl?: { name: string; location?: string };
  /** The BSL store, when it can be read directly; full scope needs it. */
  source?: ExportSource;
  /** Why `source` is absent (for the auto-scope message). */
  sourceUnavailable?: string;
  /**
   * Source and destination are on the same endpoint and account (the configuration says so): copy
   * server-side when the destination can copy from the source (its `canCopyFrom`).
   */
  serverSideCopy?: boolean;
  /** Server-side copy tuning (multipart threshold and part size; defaults: 5 GiB, 256 MiB). */
  copyOptions?: ServerSideCopyOptions;
  /** DownloadRequests (manifests scope). */
  downloads?: DownloadSource;
  /** kotsadm's `GET /api/v1/download?slug=` (configApps). */
  downloadConfig?: (app: string) => Promise<Readable>;
  emit?: (event: KotsBackupEvent) => Promise<void> | void;
  log?: ExportLog;
  progress?: (progress: ExportProgress) => void;
  now?: () => Date;
  /** Objects copied at once (default 4). */
  concurrency?: number;
  /** Attempts per DownloadRequest file (default 3): a 403 (expired URL) or a broken transfer is retried with a new URL. */
  downloadAttempts?: number;
}

export interface ConfigSaved {
  app: string;
  key: string;
  bytes: number;
  sha256: string;
}

/** The contract's `export` result (§2), plus what the CLI shows. */
export interface ExportResult {
  backup: string;
  scope: "full" | "manifests";
  destination: string;
  manifestKey: string;
  verified: boolean;
  objects: number;
  bytes: number;
  copiedObjects: number;
  copiedBytes: number;
  skippedObjects: number;
  alreadyExported: boolean;
  volumeData: "included" | "absent";
  phase: string;
  config?: Array<ConfigSaved | { app: string; error: string }>;
  /** Exports tagged expirable by retention in this run. */
  expirable?: string[];
  /** Repository objects not copied because their key cannot be (also in the manifest). */
  skipped?: SkippedObject[];
}

/** A source object the export did not copy: its key in the BSL, and why. */
export interface SkippedObject {
  key: string;
  reason: string;
}

/** The `export` result when the copy did not verify (exit 1): no manifest was written. */
export interface UnverifiedExport {
  backup: string;
  destination: string;
  manifestKey?: string;
  verified: false;
  alreadyExported: false;
  error: { code: string; message: string };
}

/** The result document of an export of `backup` (undefined: `--latest`) that failed with `error`. */
export function unverifiedExport(
  backup: string | undefined,
  destination: ObjectStore,
  error: { code: string; message: string },
): UnverifiedExport {
  return {
    backup: backup ?? "latest",
    destination: destination.location,
    ...(backup ? { manifestKey: `manifests/${backup}.json` } : {}),
    verified: false,
    alreadyExported: false,
    error: { code: error.code, message: error.message },
  };
}

interface PlannedObject {
  /** Key in the source BSL (full scope) or the DownloadRequest kind (manifests scope). */
  sourceKey?: string;
  kind?: DownloadTargetKind;
  destKey: string;
  size?: number;
  /** Repository blobs (kopia/restic): the source version listed, for the mirror index. */
  repository?: { sourceEtag: string };
}

/** What the full scope knows about the repository mirror (mirror-index.ts): read at start, saved at the end. */
interface MirrorState {
  key: string;
  source: string;
  previous: MirrorIndex["objects"];
  /** Destination repository objects as listed at the start (key → size, ETag). */
  dest: Map<string, { size: number; etag: string }>;
  verified: Map<string, MirrorEntry>;
}

const DOWNLOAD_KINDS: Array<{ kind: DownloadTargetKind; key: keyof ReturnType<typeof veleroBackupKeys> }> = [
  { kind: "BackupContents", key: "contents" },
  { kind: "BackupLog", key: "log" },
  { kind: "BackupResults", key: "results" },
  { kind: "BackupResourceList", key: "resourceList" },
];

/** Exports one backup; see the file comment. Throws (after emitting `Export Failed`) when it cannot verify. */
export async function exportBackup(request: ExportRequest, deps: ExportDeps): Promise<ExportResult> {
  const now = deps.now ?? (() => new Date());
  const log: ExportLog = deps.log ?? (() => {});
  const backup = await resolveBackup(request, deps);
  const name = backup.metadata.name;
  try {
    return await runExport(request, deps, backup, now, log);
  } catch (error) {
    await emit(deps, {
      detailType: DetailType.exportFailed,
      detail: {
        cluster: deps.cluster.name,
        ...(request.schedule ? { schedule: request.schedule } : {}),
        backup: name,
        reasons: ["export-invalid"],
        dedupKey: dedupKey(deps.cluster.name, request.schedule),
        message: `export of backup ${name} to ${deps.destination.location} failed: ${isKotsBackupError(error) ? error.message : String(error)}`,
        ...(isKotsBackupError(error) ? { code: error.code } : {}),
      },
      time: now().toISOString(),
    });
    throw error;
  }
}

async function emit(deps: ExportDeps, event: KotsBackupEvent): Promise<void> {
  try {
    await deps.emit?.(event);
  } catch (error) {
    deps.log?.("warn", `could not emit ${event.detailType}`, { reason: (error as Error).message });
  }
}

/**
 * The Backup to export: by name, or with `--latest` the newest Completed one of the kind asked (full by
 * default: core's newestToExport, as reconcile chooses); only exportable phases.
 */
export async function resolveBackup(
  request: ExportRequest,
  deps: Pick<ExportDeps, "cluster" | "log" | "now">,
): Promise<VeleroBackup> {
  let name = request.backup;
  if (request.latest) {
    if (name !== undefined) {
      throw new InputError("usage", "give either a backup name or --latest, not both", {
        field: "--latest",
        fix: "drop one of them",
      });
    }
    const kind = { type: request.type ?? BackupType.full, ...(request.app ? { app: request.app } : {}) };
    const raw = await deps.cluster.listBackups();
    let apps: Awaited<ReturnType<KotsCluster["listApps"]>> | undefined;
    if (kind.type === BackupType.partial) {
      try {
        apps = await deps.cluster.listApps();
      } catch (error) {
        deps.log?.("warn", "kotsadm's app list is unavailable: app (partial) backups cannot be recognised", {
          reason: (error as Error).message,
        });
      }
    }
    const names = new Set(raw.map((b) => b.metadata.name));
    const summaries = summarizeBackups(raw, {
      kotsadmNamespace: deps.cluster.kotsadmNamespace,
      ...(apps ? { apps } : {}),
    });
    const newest = newestToExport(summaries, kind, names, false, deps.now?.() ?? new Date());
    if (!newest) {
      const what = kind.type === BackupType.full ? "full KOTS backup" : `KOTS backup of app ${kind.app}`;
      throw new InputError("no-completed-backup", `--latest: there is no Completed ${what} in the cluster`, {
        field: "--latest",
        fix: "take one with `kots-backup backup`, or name a backup (kots-backup ls)",
      });
    }
    name = newest.name;
  }
  if (name === undefined || name === "") {
    throw new InputError("usage", "name the backup to export, or pass --latest", {
      field: "<backup>",
      fix: "see `kots-backup ls`",
    });
  }
  veleroBackupPrefix(name); // validates the name before any call
  const backup = await deps.cluster.getBackup(name);
  if (!backup) {
    throw new InputError("backup-not-found", `no Velero Backup named ${name} in the cluster`, {
      field: "<backup>",
      fix: "use a name `kots-backup ls` shows (an improved-DR pair is exported one Backup at a time)",
    });
  }
  const phase = phaseOf(backup);
  if (phase === VeleroPhase.Completed) return backup;
  if (phase === VeleroPhase.PartiallyFailed && request.includePartiallyFailed) return backup;
  throw new InputError(
    "backup-not-exportable",
    `backup ${name} is ${phase}: only Completed backups are exported${phase === VeleroPhase.PartiallyFailed ? " unless --include-partially-failed is given" : ""}`,
    {
      field: "<backup>",
      fix:
        phase === VeleroPhase.PartiallyFailed
          ? "KOTS restores only Completed backups; pass --include-partially-failed to export it anyway"
          : "export a Completed backup (kots-backup ls), or wait until this one ends",
    },
  );
}

async function runExport(
  request: ExportRequest,
  deps: ExportDeps,
  backup: VeleroBackup,
  now: () => Date,
  log: ExportLog,
): Promise<ExportResult> {
  const name = backup.metadata.name;
  const dest = deps.destination;
  const mKey = manifestKey(name);
  const phase = phaseOf(backup);
  const exportStartedAt = now();

  // 1. A verified export is never redone.
  const existing = await dest.head(mKey);
  let replaceEtag: string | undefined;
  if (existing) {
    const manifest = await readManifest(dest, mKey);
    if (manifest && manifest.backup === name) {
      log("info", `backup ${name} is already exported and verified`, { manifest: mKey });
      return {
        backup: name,
        scope: manifest.scope,
        destination: dest.location,
        manifestKey: mKey,
        verified: true,
        objects: manifest.totals.objects,
        bytes: manifest.totals.bytes,
        copiedObjects: 0,
        copiedBytes: 0,
        skippedObjects: manifest.totals.objects,
        alreadyExported: true,
        volumeData: manifest.volumeData,
        phase: manifest.phase,
      };
    }
    log("warn", `${mKey} exists but is not a valid manifest for ${name}: exporting again and replacing it`);
    replaceEtag = existing.etag;
  }

  // 2. Scope.
  const scope = await chooseScope(request.scope ?? "auto", deps, name, log);

  // 3. Plan (full scope: the source listings and the mirror state at once).
  const [listed, mirror] =
    scope === "full"
      ? await Promise.all([planFull(deps.source!.store, name), loadMirror(deps.source!.store, dest)])
      : [planManifests(name), undefined];
  const { planned, skipped } =
    scope === "full" ? setAsideUncopyable(listed, dest, name, log) : { planned: listed, skipped: [] };
  for (const item of planned) {
    if (!isAllowedKey(item.destKey) || !item.destKey.startsWith(VELERO_ROOT)) {
      throw new ProblemError(
        "export-layout",
        `refusing to write ${item.destKey}: not an allowed key under ${VELERO_ROOT}`,
        {
          fix: "the source BSL holds an object outside Velero's layout; report it",
        },
      );
    }
  }
  const backupKeys = veleroBackupKeys(name);
  if (scope === "full") {
    if (!planned.some((p) => p.destKey === backupKeys.metadata)) {
      throw new ProblemError(
        "backup-incomplete",
        `backup ${name} has no velero-backup.json in the BSL: Velero could not restore it`,
        { fix: "check the backup with `velero backup describe --details`" },
      );
    }
    if (!planned.some((p) => p.destKey === backupKeys.contents)) {
      throw new ProblemError("backup-incomplete", `backup ${name} has no resource tarball (${name}.tar.gz)`, {
        fix: "check the backup with `velero backup describe --details`",
      });
    }
  }
  // velero-backup.json is copied after everything else (the manifests scope writes it from the API).
  const last = planned.find((p) => p.destKey === backupKeys.metadata);
  const first = planned.filter((p) => p !== last);

  // 4. Copy and verify, a few objects at a time.
  const totals = { doneBytes: 0, doneObjects: 0, copiedObjects: 0, copiedBytes: 0, skipped: 0 };
  const totalBytes = planned.every((p) => p.size !== undefined)
    ? planned.reduce((s, p) => s + (p.size ?? 0), 0)
    : undefined;
  const report = (bytes: number) => {
    totals.doneBytes += bytes;
    deps.progress?.({
      phase: "copy",
      doneBytes: totals.doneBytes,
      ...(totalBytes === undefined ? {} : { totalBytes }),
      doneObjects: totals.doneObjects,
      totalObjects: planned.length + (scope === "manifests" ? 1 : 0),
    });
  };
  const objects: ManifestObject[] = [];
  /** Objects of the backup's own folder this run wrote: what withdraw removes after a failure. */
  const wrote: string[] = [];
  const copyOne = async (item: PlannedObject): Promise<void> => {
    const outcome =
      scope === "full"
        ? await copyFromBsl(deps, item, name, report, mirror)
        : await copyFromDownload(deps, item, name, report, log);
    if (outcome.copied && item.destKey.startsWith(veleroBackupPrefix(name))) wrote.push(item.destKey);
    objects.push({ key: item.destKey, size: outcome.size, sha256: outcome.sha256 });
    totals.doneObjects += 1;
    if (outcome.copied) {
      totals.copiedObjects += 1;
      totals.copiedBytes += outcome.size;
    } else {
      totals.skipped += 1;
      report(0);
    }
  };
  let manifest: ExportManifest;
  try {
    try {
      await runPool(first, deps.concurrency ?? 4, copyOne);
    } finally {
      // Also after a failure: what verified so far lets the next run resume without re-checking it.
      if (mirror) await saveMirror(dest, mirror, log);
    }
    // velero-backup.json: Velero lists a backup by it, so only once everything else verified.
    if (last) await copyOne(last);
    else {
      // From the Backup object read from the API (Velero's own is the same object).
      const key = backupKeys.metadata;
      const body = Buffer.from(JSON.stringify(backupDocument(backup)));
      const outcome = await putVerified(dest, key, body);
      objects.push({ key, size: outcome.size, sha256: outcome.sha256 });
      totals.copiedObjects += 1;
      totals.copiedBytes += outcome.size;
    }

    // 5. The manifest, last.
    objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const bytes = objects.reduce((s, o) => s + o.size, 0);
    const app = isInstanceBackup(backup) ? undefined : await appSlugOf(deps, backup);
    manifest = {
      formatVersion: 1,
      backup: name,
      type: isInstanceBackup(backup) ? "full" : "partial",
      ...(app ? { app } : {}),
      scope,
      volumeData: scope === "full" ? "included" : "absent",
      source: {
        cluster: deps.cluster.name,
        ...(deps.veleroNamespace ? { veleroNamespace: deps.veleroNamespace } : {}),
        bsl: deps.bsl?.name ?? backup.spec?.storageLocation ?? "default",
        ...(deps.bsl?.location ? { location: deps.bsl.location } : {}),
      },
      phase,
      partiallyFailed: phase === VeleroPhase.PartiallyFailed,
      ...timesOf(backup),
      exportStartedAt: exportStartedAt.toISOString(),
      exportedAt: now().toISOString(),
      objects,
      totals: { objects: objects.length, bytes },
      ...(skipped.length > 0 ? { skipped } : {}),
    };
    parseManifest(manifest); // never write a manifest the reader would refuse
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    try {
      await dest.put(mKey, text, {
        contentType: "application/json",
        ...(replaceEtag ? { ifMatch: replaceEtag } : { ifNoneMatch: true }),
      });
    } catch (error) {
      const other =
        (error as { code?: string }).code === "precondition-failed"
          ? await readManifest(dest, mKey)
          : undefined;
      // A retried PUT whose first attempt was stored (its answer lost) meets its own manifest: written.
      if (!other || !isDeepStrictEqual(other, parseManifest(manifest))) {
        if (other && other.backup === name) {
          log("info", `another run finished exporting ${name} first`);
          return { ...resultOf(name, scope, dest, mKey, other, totals), alreadyExported: true };
        }
        throw error;
      }
    }
    const written = await readManifest(dest, mKey);
    if (!written)
      throw new ProblemError("export-verification-failed", `${mKey} did not read back as a valid manifest`, {
        fix: "re-run the export",
      });
  } catch (error) {
    await withdraw(dest, name, mKey, wrote, log);
    throw afterWrites(error);
  }
  const bytes = manifest.totals.bytes;
  log("info", `exported and verified backup ${name}`, {
    scope,
    objects: objects.length,
    bytes,
    manifest: mKey,
  });

  const result: ExportResult = resultOf(name, scope, dest, mKey, manifest, totals);
  if (skipped.length > 0) result.skipped = skipped;

  // 6. After a verified export: retention tags, KOTS config, event. None of these unverify the export.
  try {
    result.expirable = await applyRetention(dest, request.keepLast ?? 3, log);
  } catch (error) {
    log("warn", "could not apply retention tags; nothing was tagged expirable", {
      reason: (error as Error).message,
    });
  }
  if (request.configApps && request.configApps.length > 0) {
    result.config = [];
    for (const appSlug of request.configApps) {
      try {
        if (!deps.downloadConfig)
          throw new EnvironmentError(
            "kotsadm-unavailable",
            "no kotsadm connection to download the KOTS config from",
          );
        result.config.push(
          await saveKotsConfig(dest, appSlug, configKey(appSlug, name), deps.downloadConfig),
        );
      } catch (error) {
        log("warn", `could not save the KOTS config of ${appSlug}`, { reason: (error as Error).message });
        result.config.push({ app: appSlug, error: (error as Error).message });
      }
    }
  }
  await emit(deps, {
    detailType: DetailType.exportCompleted,
    detail: {
      cluster: deps.cluster.name,
      ...(request.schedule ? { schedule: request.schedule } : {}),
      backup: name,
      dedupKey: dedupKey(deps.cluster.name, request.schedule),
      message: `backup ${name} exported to ${dest.location} and verified (${scope} scope, ${objects.length} objects, ${bytes} bytes${skipped.length > 0 ? `; ${skipped.length} repository objects skipped: their keys cannot be copied, see the manifest` : ""})`,
      scope,
      manifestKey: mKey,
    },
    time: now().toISOString(),
  });
  return result;
}

function resultOf(
  name: string,
  scope: "full" | "manifests",
  dest: ObjectStore,
  mKey: string,
  manifest: ExportManifest,
  totals: { copiedObjects: number; copiedBytes: number; skipped: number },
): ExportResult {
  return {
    backup: name,
    scope,
    destination: dest.location,
    manifestKey: mKey,
    verified: true,
    objects: manifest.totals.objects,
    bytes: manifest.totals.bytes,
    copiedObjects: totals.copiedObjects,
    copiedBytes: totals.copiedBytes,
    skippedObjects: totals.skipped,
    alreadyExported: false,
    volumeData: manifest.volumeData,
    phase: manifest.phase,
  };
}

async function chooseScope(
  choice: ExportScopeChoice,
  deps: ExportDeps,
  name: string,
  log: ExportLog,
): Promise<"full" | "manifests"> {
  if (choice === "manifests") {
    if (!deps.downloads)
      throw new EnvironmentError(
        "downloads-unavailable",
        "the manifests scope needs the cluster's DownloadRequests",
      );
    return "manifests";
  }
  const probeKey = `backups/${name}/velero-backup.json`;
  let problem: string | undefined = deps.source
    ? undefined
    : (deps.sourceUnavailable ?? "no direct access to the BSL is configured (export.bsl)");
  if (deps.source) {
    try {
      const found = await deps.source.store.head(probeKey);
      if (found) return "full";
      problem = `the BSL ${deps.source.store.location} has no ${probeKey}`;
    } catch (error) {
      problem = `the BSL ${deps.source.store.location} cannot be read: ${(error as Error).message}`;
    }
  }
  if (choice === "full") {
    throw new EnvironmentError("bsl-unreachable", `scope full: ${problem}`, {
      fix: "give kots-backup read access to the BSL bucket (export.bsl: endpoint, region, credentials), or export with --scope manifests (no volume data)",
    });
  }
  if (!deps.downloads)
    throw new EnvironmentError(
      "bsl-unreachable",
      `${problem}, and DownloadRequests are not available either`,
    );
  log("warn", `exporting backup ${name} in manifests scope: volume data is NOT included`, {
    reason: problem,
  });
  return "manifests";
}

/**
 * The repositories, then every object of the backup (keys, sizes and ETags; the three listed at once):
 * copies start in this order, so a crash mid-mirror leaves the fewest objects of the backup behind.
 */
async function planFull(source: ObjectStore, name: string): Promise<PlannedObject[]> {
  const backupPrefix = `backups/${name}/`;
  const [backupObjects, kopia, restic] = await Promise.all([
    listAll(source, backupPrefix),
    listAll(source, "kopia/"),
    listAll(source, "restic/"),
  ]);
  return [
    ...[...kopia, ...restic].map((info) => ({
      sourceKey: info.key,
      destKey: `${VELERO_ROOT}${info.key}`,
      size: info.size,
      repository: { sourceEtag: info.etag },
    })),
    ...backupObjects.map((info) => ({
      sourceKey: info.key,
      destKey: `${veleroBackupPrefix(name)}${info.key.slice(backupPrefix.length)}`,
      size: info.size,
    })),
  ];
}

/**
 * Full scope: sets aside the source objects whose key cannot be copied (not a valid object key, so
 * the BSL store cannot read it; or one the destination cannot store, such as a 300-byte file name in
 * a local folder). One in the backup's own folder fails the export before anything is written: the
 * copy would not be the whole backup. One in a repository is skipped, with a warning and a line in
 * the manifest: kopia and restic name their blobs by content hash (short, plain names), so neither
 * reads an object under such a key.
 */
function setAsideUncopyable(
  listed: PlannedObject[],
  dest: ObjectStore,
  name: string,
  log: ExportLog,
): { planned: PlannedObject[]; skipped: SkippedObject[] } {
  const planned: PlannedObject[] = [];
  const skipped: SkippedObject[] = [];
  for (const item of listed) {
    const sourceKey = item.sourceKey!;
    const reason = uncopyable(sourceKey, item.destKey, dest);
    if (reason === undefined) planned.push(item);
    else if (item.repository) {
      skipped.push({ key: sourceKey, reason });
      log("warn", `skipping repository object ${JSON.stringify(sourceKey)} of the BSL: ${reason}`);
    } else {
      throw new ProblemError(
        "source-key-invalid",
        `backup ${name} holds an object that cannot be exported, ${JSON.stringify(sourceKey)}: ${reason}; without it the copy would not be the whole backup, so nothing was written`,
        {
          fix: "remove or rename that object in the BSL (Velero never writes such a key), or export with --scope manifests",
        },
      );
    }
  }
  return { planned, skipped };
}

/** Why the source object `sourceKey` cannot be copied to `destKey` in `dest`, or undefined. */
function uncopyable(sourceKey: string, destKey: string, dest: ObjectStore): string | undefined {
  const source = keyProblem(sourceKey);
  if (source) return `not a valid object key (${source})`;
  const destination = dest.keyProblem ? dest.keyProblem(destKey) : keyProblem(destKey);
  if (destination) return `${dest.location} cannot store it (${destination})`;
  return undefined;
}

/**
 * After a failed export nothing at the destination may look like a restorable backup. Velero lists a
 * backup by `velero-backup.json`, so that goes first, whoever wrote it (without a manifest nothing
 * vouches for the rest); then the backup's other objects this run wrote. Repository blobs stay: each
 * was verified on its own, they are shared between backups, and the mirror index lets the next run
 * skip them. Nothing is removed when a valid manifest for the backup is present (another run
 * completed the export meanwhile), and never anything in the source.
 */
async function withdraw(
  dest: ObjectStore,
  name: string,
  mKey: string,
  wrote: readonly string[],
  log: ExportLog,
): Promise<void> {
  if ((await readManifest(dest, mKey))?.backup === name) return;
  const metadata = veleroBackupKeys(name).metadata;
  for (const key of [metadata, ...wrote.filter((k) => k !== metadata)]) {
    try {
      await dest.delete(key);
    } catch (error) {
      log(
        key === metadata ? "error" : "warn",
        key === metadata
          ? `could not remove ${key}: Velero may list backup ${name} from ${dest.location} although its export did not verify`
          : `could not remove ${key} of the failed export`,
        { reason: (error as Error).message },
      );
    }
  }
}

/** An input error raised once writing may have begun cannot claim "nothing was changed" (exit 2): exit 1. */
function afterWrites(error: unknown): unknown {
  if (!(error instanceof InputError)) return error;
  return new ProblemError(error.code, error.message, {
    ...(error.field === undefined ? {} : { field: error.field }),
    ...(error.fix === undefined ? {} : { fix: error.fix }),
    cause: error,
  });
}

async function listAll(store: ObjectStore, prefix: string): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  for await (const info of store.list(prefix)) found.push(info);
  return found;
}

async function loadMirror(source: ObjectStore, dest: ObjectStore): Promise<MirrorState> {
  const key = mirrorIndexKey(source.location);
  const readPrevious = async (): Promise<MirrorIndex["objects"]> => {
    try {
      if (!(await dest.head(key))) return {};
      const text = (await readSmall(dest, key, 512 * 1024 * 1024))?.toString("utf8");
      return (text ? parseMirrorIndex(JSON.parse(text), source.location) : undefined)?.objects ?? {};
    } catch {
      return {}; // a cache: unreadable means the slow path
    }
  };
  const [previous, kopia, restic] = await Promise.all([
    readPrevious(),
    listAll(dest, `${VELERO_ROOT}kopia/`),
    listAll(dest, `${VELERO_ROOT}restic/`),
  ]);
  const listing = new Map<string, { size: number; etag: string }>();
  for (const info of [...kopia, ...restic]) listing.set(info.key, { size: info.size, etag: info.etag });
  return { key, source: source.location, previous, dest: listing, verified: new Map() };
}

async function saveMirror(dest: ObjectStore, mirror: MirrorState, log: ExportLog): Promise<void> {
  if (mirror.verified.size === 0 && Object.keys(mirror.previous).length === 0) return;
  const objects: MirrorIndex["objects"] = { ...mirror.previous };
  for (const [key, entry] of mirror.verified) objects[key] = entry;
  const index: MirrorIndex = { formatVersion: 1, source: mirror.source, objects };
  try {
    await dest.put(mirror.key, JSON.stringify(index), { contentType: "application/json" });
  } catch (error) {
    log("warn", "could not save the repository mirror index; the next export checks every blob again", {
      reason: (error as Error).message,
    });
  }
}

async function readSmall(store: ObjectStore, key: string, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await store.get(key)) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function planManifests(name: string): PlannedObject[] {
  const keys = veleroBackupKeys(name);
  return DOWNLOAD_KINDS.map(({ kind, key }) => ({ kind, destKey: keys[key] }));
}

interface CopyOutcome {
  size: number;
  sha256: string;
  copied: boolean;
}

/** One object of the full scope: skip when already there, else copy (server-side or streamed), then verify. */
async function copyFromBsl(
  deps: ExportDeps,
  item: PlannedObject,
  name: string,
  report: (n: number) => void,
  mirror?: MirrorState,
): Promise<CopyOutcome> {
  const sourceKey = item.sourceKey!;
  if (item.repository && mirror) {
    const entry = mirror.previous[sourceKey];
    const listed = { size: item.size ?? -1, etag: item.repository.sourceEtag };
    if (entry && unchangedSinceVerified(entry, listed, mirror.dest.get(item.destKey))) {
      mirror.verified.set(sourceKey, entry);
      return { size: entry.size, sha256: entry.sha256, copied: false };
    }
    const outcome = await copyFromBslChecked(deps, item, name, report, mirror);
    if (outcome.sourceEtag && outcome.destEtag) {
      mirror.verified.set(sourceKey, {
        sourceEtag: outcome.sourceEtag,
        size: outcome.size,
        sha256: outcome.sha256,
        destEtag: outcome.destEtag,
      });
    }
    return outcome;
  }
  return copyFromBslChecked(deps, item, name, report, mirror);
}

async function copyFromBslChecked(
  deps: ExportDeps,
  item: PlannedObject,
  name: string,
  report: (n: number) => void,
  mirror: MirrorState | undefined,
): Promise<CopyOutcome & { sourceEtag?: string; destEtag?: string }> {
  const source = deps.source!.store;
  const dest = deps.destination;
  const sourceKey = item.sourceKey!;
  const check = item.destKey.startsWith(veleroBackupPrefix(name))
    ? contentCheckFor(item.destKey, name)
    : undefined;
  const sourceInfo = await source.head(sourceKey);
  if (!sourceInfo) {
    throw new ProblemError(
      "source-object-vanished",
      `${sourceKey} disappeared from the BSL during the export`,
      {
        fix: "re-run the export (Velero's repository maintenance may have removed it); if the backup was deleted, export another",
      },
    );
  }
  // The listing says whether a repository blob is at the destination at all: no HEAD for new blobs.
  const listed = item.repository && mirror ? mirror.dest.get(item.destKey) : undefined;
  const existing = item.repository && mirror && !listed ? undefined : await dest.head(item.destKey);
  if (existing && existing.size === sourceInfo.size) {
    const sourceSha = await statedOrHashed(source, sourceKey, sourceInfo.sha256);
    const destSha = await statedOrHashed(dest, item.destKey, existing.sha256);
    if (sourceSha === destSha) {
      // Backup objects are re-verified (content checks included); repository blobs rest on the
      // size + checksum equality the destination itself states.
      if (check !== undefined || item.destKey.startsWith(veleroBackupPrefix(name))) {
        await verifyOrRemove(dest, item.destKey, { sha256: sourceSha, size: sourceInfo.size }, check);
      }
      return {
        size: sourceInfo.size,
        sha256: sourceSha,
        copied: false,
        sourceEtag: sourceInfo.etag,
        destEtag: existing.etag,
      };
    }
  }
  if (deps.serverSideCopy && dest.copyFrom && dest.canCopyFrom?.(source)) {
    const sourceSha = await statedOrHashed(source, sourceKey, sourceInfo.sha256);
    const copied = await dest.copyFrom(source, sourceKey, item.destKey, deps.copyOptions ?? {});
    report(sourceInfo.size);
    await verifyOrRemove(dest, item.destKey, { sha256: sourceSha, size: sourceInfo.size }, check);
    return {
      size: sourceInfo.size,
      sha256: sourceSha,
      copied: true,
      sourceEtag: sourceInfo.etag,
      destEtag: copied.etag,
    };
  }
  const meter = metered(await source.get(sourceKey), { onBytes: report });
  let written: WrittenObject;
  try {
    written = await dest.put(item.destKey, meter, sourceInfo.sha256 ? { sha256: sourceInfo.sha256 } : {});
  } catch (error) {
    if (error instanceof ChecksumMismatchError) {
      throw new ProblemError(
        "source-checksum-mismatch",
        `${sourceKey} read from the BSL does not hash to the SHA-256 the BSL states for it: nothing was stored`,
        {
          fix: "re-run the export; if it repeats, the source object is corrupt",
          cause: error,
        },
      );
    }
    throw error;
  }
  if (meter.bytes !== sourceInfo.size) {
    await dest.delete(item.destKey).catch(() => {});
    throw new ProblemError(
      "short-read",
      `${sourceKey}: read ${meter.bytes} bytes from the BSL, expected ${sourceInfo.size}`,
      { fix: "re-run the export" },
    );
  }
  await verifyOrRemove(dest, item.destKey, expectedOf(written), check);
  return {
    size: written.size,
    sha256: written.sha256 ?? "",
    copied: true,
    sourceEtag: sourceInfo.etag,
    destEtag: written.etag,
  };
}

/** One file of the manifests scope, from a DownloadRequest URL (re-requested when refused or cut). */
async function copyFromDownload(
  deps: ExportDeps,
  item: PlannedObject,
  name: string,
  report: (n: number) => void,
  log: ExportLog,
): Promise<CopyOutcome> {
  const downloads = deps.downloads!;
  const dest = deps.destination;
  const what = `${item.kind} of backup ${name}`;
  const attempts = Math.max(1, deps.downloadAttempts ?? 3);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const url: SignedDownload = await downloads.requestUrl(item.kind!, name);
    let counted = 0;
    try {
      const { body, size } = await downloads.open(url, what);
      const meter = metered(body, {
        onBytes: (n) => {
          counted += n;
          report(n);
        },
      });
      const written = await dest.put(item.destKey, meter);
      if (size !== undefined && meter.bytes !== size) {
        await dest.delete(item.destKey).catch(() => {});
        throw new ProblemError("download-truncated", `${what}: received ${meter.bytes} of ${size} bytes`, {
          fix: "re-run the export",
        });
      }
      await verifyOrRemove(dest, item.destKey, expectedOf(written), contentCheckFor(item.destKey, name));
      return { size: written.size, sha256: written.sha256 ?? "", copied: true };
    } catch (error) {
      report(-counted);
      lastError = error;
      const retryable =
        error instanceof DownloadUrlExpiredError ||
        !isKotsBackupError(error) ||
        (error as { code?: string }).code === "download-failed";
      if (!retryable || attempt === attempts) break;
      log(
        "warn",
        `${what}: ${error instanceof DownloadUrlExpiredError ? "the signed URL expired" : "the transfer broke"}; requesting a new URL`,
        {
          attempt,
        },
      );
    }
  }
  if (isKotsBackupError(lastError) && (lastError as { code: string }).code !== "download-url-expired")
    throw lastError;
  if (lastError instanceof DownloadUrlExpiredError) throw lastError;
  throw new ProblemError(
    "download-incomplete",
    `${what}: the download broke off (${(lastError as Error)?.message ?? "unknown"}); nothing was kept`,
    {
      fix: "re-run the export; if it repeats, check the network path to the object store behind the BSL",
    },
  );
}

async function putVerified(
  dest: ObjectStore,
  key: string,
  body: Buffer,
): Promise<{ size: number; sha256: string }> {
  const { createHash } = await import("node:crypto");
  const sha256 = createHash("sha256").update(body).digest("hex");
  await dest.put(key, body, { sha256, contentType: "application/json" });
  await verifyOrRemove(dest, key, { sha256, size: body.length }, undefined);
  return { size: body.length, sha256 };
}

/** The Backup as Velero persists it: the API object without server-side bookkeeping. */
function backupDocument(backup: VeleroBackup): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(backup)) as Record<string, unknown> & {
    metadata: Record<string, unknown>;
  };
  delete copy.metadata.managedFields;
  return { apiVersion: "velero.io/v1", kind: "Backup", ...copy };
}

function timesOf(backup: VeleroBackup): Pick<ExportManifest, "requestedAt" | "startedAt" | "completedAt"> {
  const iso = (value: string | undefined) => {
    if (!value) return undefined;
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
  };
  const out: Pick<ExportManifest, "requestedAt" | "startedAt" | "completedAt"> = {};
  const requested = iso(requestedAtOf(backup));
  const started = iso(backup.status?.startTimestamp);
  const completed = iso(backup.status?.completionTimestamp);
  if (requested) out.requestedAt = requested;
  if (started) out.startedAt = started;
  if (completed) out.completedAt = completed;
  return out;
}

async function appSlugOf(deps: ExportDeps, backup: VeleroBackup): Promise<string | undefined> {
  const appId = backup.metadata.annotations?.[BackupAnnotation.appId];
  if (!appId) return undefined;
  try {
    return (await deps.cluster.listApps()).find((a) => a.id === appId)?.slug;
  } catch {
    return undefined;
  }
}

/** A manifest read from the destination, or undefined when missing or invalid. */
export async function readManifest(store: ObjectStore, key: string): Promise<ExportManifest | undefined> {
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of await store.get(key)) {
      size += (chunk as Buffer).length;
      if (size > 256 * 1024 * 1024) return undefined;
      chunks.push(chunk as Buffer);
    }
    return parseManifest(JSON.parse(Buffer.concat(chunks).toString("utf8")));
  } catch {
    return undefined;
  }
}

/**
 * Retention (core/retention.ts): tags the objects of exports that are not among the newest `keepLast`
 * verified exports of their kind `kots-backup/expirable=true`: the backup's `velero/backups/<name>/`
 * objects and its manifest. Repository blobs are shared between backups and are never tagged.
 */
export async function applyRetention(dest: ObjectStore, keepLast: number, log: ExportLog): Promise<string[]> {
  const manifests: ExportManifest[] = [];
  for await (const info of dest.list(MANIFESTS_ROOT)) {
    if (!backupNameOfManifestKey(info.key)) continue;
    const manifest = await readManifest(dest, info.key);
    if (manifest) manifests.push(manifest);
  }
  const retained: RetainedExport[] = manifests.map((m) => ({
    backup: m.backup,
    type: m.type,
    ...(m.app ? { app: m.app } : {}),
    completedAt: m.completedAt ?? m.exportedAt,
    verified: true,
  }));
  const plan = planRetention(retained, keepLast);
  const tag = { [EXPIRABLE_TAG.key]: EXPIRABLE_TAG.value };
  for (const backupName of plan.expirable) {
    const manifest = manifests.find((m) => m.backup === backupName);
    if (!manifest) continue;
    const prefix = veleroBackupPrefix(backupName);
    for (const object of manifest.objects) {
      if (object.key.startsWith(prefix)) await dest.setTags(object.key, tag).catch(() => {});
    }
    await dest.setTags(manifestKey(backupName), tag);
  }
  if (plan.expirable.length > 0)
    log("info", "exports tagged expirable (older than the newest verified ones kept)", {
      exports: plan.expirable,
    });
  return plan.expirable;
}

/** Saves kotsadm's app archive (passwords stay encrypted) at `key`, verified; an empty archive is an error. */
export async function saveKotsConfig(
  dest: ObjectStore,
  app: string,
  key: string,
  download: (app: string) => Promise<Readable>,
): Promise<ConfigSaved> {
  const written = await dest.put(key, await download(app), { contentType: "application/gzip" });
  if (written.size === 0) {
    await dest.delete(key).catch(() => {});
    throw new EnvironmentError(
      "kotsadm-download-empty",
      `kotsadm answered the download of ${app} with an empty archive: it did not accept the credentials`,
      {
        fix: "check that Secret kotsadm-authstring is the one kotsadm reads (restart the kotsadm pod after replacing it)",
      },
    );
  }
  await verifyOrRemove(dest, key, expectedOf(written), "gzip");
  return { app, key, bytes: written.size, sha256: written.sha256 ?? "" };
}

/** `config-download --app <slug>`: the archive at `config/<app>/manual-<YYYYMMDDTHHMMSSZ>.tar.gz`. */
export function saveManualKotsConfig(
  dest: ObjectStore,
  app: string,
  download: (app: string) => Promise<Readable>,
  now: Date = new Date(),
): Promise<ConfigSaved> {
  return saveKotsConfig(dest, app, manualConfigKey(app, now), download);
}

async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.error;
}

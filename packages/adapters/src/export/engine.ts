// The export use case (issue #5): copies one finished Velero backup off the cluster into the export
// destination's layout (core/export-layout.ts), verifies every object (integrity.ts), and only then
// writes `<p>/manifests/<name>.json`, last. This file orchestrates; the decisions live in:
//   core/export/plan.ts      which objects each scope exports, and the write order (and its undoing)
//   core/export/manifest.ts  the manifest built from the verified objects; when one vouches for a backup
//   core/retention.ts        which exports become expirable beyond keepLast
//   scope.ts                 the scope (full when the BSL can be read directly), and the plan's inputs
//   copy.ts                  the copy step: skip, server-side copy or stream, then verify (integrity.ts)
//   download.ts              the manifests scope's DownloadRequests, velero-backup.json from the API
//   withdraw.ts              the clean-up after a failure
//   manifest-store.ts, retention.ts, kots-config.ts  the manifest, the tags, the KOTS config archive
//
// Guarantees: memory flat in backup size (streams, bounded concurrency; the stores bound part sizes);
// source objects are only read; a failure writes no manifest, aborts its multipart uploads (the
// stores do), removes any destination object that failed its check and what withdraw removes, and is
// emitted as `Export Failed`; a verified export (valid manifest present) is never redone or
// overwritten; nothing is written at the top of `velero/` except Velero's own folders; a source
// object whose key cannot be copied fails the export before any write when it is the backup's own,
// and is skipped (warned, listed in the manifest) when it is in a repository.
import type { Readable } from "node:stream";
import {
  DetailType,
  dedupKey,
  InputError,
  isKotsBackupError,
  type KotsBackupEvent,
  type KotsCluster,
  type ObjectStore,
  type ServerSideCopyOptions,
} from "@kots-backup/core";
import { BackupType, listBackups as summarizeBackups } from "@kots-backup/core/backups";
import { appIdOf, buildManifest, isExportOf } from "@kots-backup/core/export/manifest";
import type { ExportScope, SkippedObject } from "@kots-backup/core/export/plan";
import { type ExportManifest, manifestKey, veleroBackupPrefix } from "@kots-backup/core/export-layout";
import { type ExportChoice, newestToExport } from "@kots-backup/core/usecases/reconcile";
import { phaseOf, type VeleroBackup, VeleroPhase } from "@kots-backup/core/velero";
import type { DownloadSource } from "../kube/download-request.ts";
import { type Copied, copyPlanned, nothingCopied } from "./copy.ts";
import { type ConfigSaved, saveConfigs } from "./kots-config.ts";
import { readManifest, writeManifest } from "./manifest-store.ts";
import { applyRetention } from "./retention.ts";
import { chooseScope, planExport } from "./scope.ts";
import { afterWrites, withdraw } from "./withdraw.ts";

// Also imported from here by the CLI, the Lambdas and the tests.
export type { ExportScopeChoice } from "@kots-backup/core/usecases/export-requests";
export { saveManualKotsConfig } from "./kots-config.ts";
export { readManifest } from "./manifest-store.ts";

/**
 * What to export: core's ExportChoice (a backup by name, or `latest` of a kind; the scope; the
 * schedule it belongs to, for the event's dedup key), and what follows a verified export.
 */
export interface ExportRequest extends ExportChoice {
  /** Newest verified exports never tagged expirable (default 3). */
  keepLast?: number;
  /** Apps whose KOTS config archive is saved after the export (`config/<app>/<backup>.tar.gz`). */
  configApps?: readonly string[];
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

/** The contract's `export` result (§2), plus what the CLI shows. */
export interface ExportResult {
  backup: string;
  scope: ExportScope;
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
  const exportStartedAt = now();

  // 1. A verified export is never redone.
  const existing = await dest.head(mKey);
  const found = existing ? await readManifest(dest, mKey) : undefined;
  if (found && isExportOf(found, name)) {
    log("info", `backup ${name} is already exported and verified`, { manifest: mKey });
    const none = { copiedObjects: 0, copiedBytes: 0, skipped: found.totals.objects };
    return { ...resultOf(found.scope, dest, mKey, found, none), alreadyExported: true };
  }
  if (existing)
    log("warn", `${mKey} exists but is not a valid manifest for ${name}: exporting again and replacing it`);

  // 2. The scope, and its plan.
  const scope = await chooseScope(request.scope ?? "auto", deps, name, log);
  const { plan, mirror } = await planExport(scope, deps, name, log);

  // 3. The plan's objects in its order, each verified; then the manifest, last. A failure withdraws.
  const copied = nothingCopied();
  let manifest: ExportManifest;
  try {
    await copyPlanned(plan, { deps, backup, mirror, log }, copied);
    manifest = buildManifest({
      backup,
      scope,
      app: await appSlugOf(deps, backup),
      cluster: deps.cluster.name,
      veleroNamespace: deps.veleroNamespace,
      bsl: deps.bsl,
      objects: copied.objects,
      skipped: plan.skipped,
      exportStartedAt,
      exportedAt: now(),
    });
    const theirs = await writeManifest(dest, mKey, manifest, existing?.etag);
    if (theirs) {
      log("info", `another run finished exporting ${name} first`);
      return { ...resultOf(scope, dest, mKey, theirs, copied), alreadyExported: true };
    }
  } catch (error) {
    await withdraw(dest, name, copied.wrote, log);
    throw afterWrites(error);
  }
  log("info", `exported and verified backup ${name}`, {
    scope,
    objects: manifest.totals.objects,
    bytes: manifest.totals.bytes,
    manifest: mKey,
  });
  const result = resultOf(scope, dest, mKey, manifest, copied);
  if (plan.skipped.length > 0) result.skipped = plan.skipped;
  await afterVerified(request, deps, result, now, log);
  return result;
}

/** After a verified export: retention tags, the KOTS config, the event. None of these unverify the export. */
async function afterVerified(
  request: ExportRequest,
  deps: ExportDeps,
  result: ExportResult,
  now: () => Date,
  log: ExportLog,
): Promise<void> {
  const dest = deps.destination;
  try {
    result.expirable = await applyRetention(dest, request.keepLast ?? 3, log);
  } catch (error) {
    log("warn", "could not apply retention tags; nothing was tagged expirable", {
      reason: (error as Error).message,
    });
  }
  if (request.configApps && request.configApps.length > 0)
    result.config = await saveConfigs(dest, request.configApps, result.backup, deps.downloadConfig, log);
  const skipped = result.skipped?.length ?? 0;
  await emit(deps, {
    detailType: DetailType.exportCompleted,
    detail: {
      cluster: deps.cluster.name,
      ...(request.schedule ? { schedule: request.schedule } : {}),
      backup: result.backup,
      dedupKey: dedupKey(deps.cluster.name, request.schedule),
      message: `backup ${result.backup} exported to ${dest.location} and verified (${result.scope} scope, ${result.objects} objects, ${result.bytes} bytes${skipped > 0 ? `; ${skipped} repository objects skipped: their keys cannot be copied, see the manifest` : ""})`,
      scope: result.scope,
      manifestKey: result.manifestKey,
    },
    time: now().toISOString(),
  });
}

function resultOf(
  scope: ExportScope,
  dest: ObjectStore,
  mKey: string,
  manifest: ExportManifest,
  totals: Pick<Copied, "copiedObjects" | "copiedBytes" | "skipped">,
): ExportResult {
  return {
    backup: manifest.backup,
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

/** The slug of an app backup's app; undefined for other backups, or when kotsadm does not answer or know it. */
async function appSlugOf(deps: ExportDeps, backup: VeleroBackup): Promise<string | undefined> {
  const appId = appIdOf(backup);
  if (!appId) return undefined;
  try {
    return (await deps.cluster.listApps()).find((a) => a.id === appId)?.slug;
  } catch {
    return undefined;
  }
}

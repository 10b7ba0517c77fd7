// The offline restore drill (`kots-backup drill`): reads an export as Velero's restore would, without a
// cluster, and says whether a restore could start from it. Checks, in order, each one named in the
// result (the first failing one is the cause):
//   manifest        `manifests/<name>.json` parses (it is written last, only after every object verified);
//   checksums       every object the manifest lists is present, of its size, with its SHA-256 (the whole
//                   repository too, for a full-scope export: what a file-system restore would read);
//   backup          `velero/backups/<name>/velero-backup.json` decodes to this Backup, in a restorable phase;
//   tarball         the contents tarball extracts safely (adapters/src/tarball.ts: no `..`, links or
//                   devices, bounded decompression) and every item parses;
//   resource-list   the items in the tarball are exactly the backup's `<name>-resource-list.json.gz`.
// The drill itself only reads; drillAndRecord then records the run under `state/drills/`.
import { createGunzip } from "node:zlib";
import type { ObjectStore } from "@kots-backup/core";
import type { DrillClusterConfig } from "@kots-backup/core/config";
import { type DrillRun, drillRunOf } from "@kots-backup/core/drill";
import {
  backupNameOfManifestKey,
  type ExportManifest,
  MANIFESTS_ROOT,
  manifestKey,
  parseManifest,
  veleroBackupKeys,
} from "@kots-backup/core/export-layout";
import { recordDrillRun } from "@kots-backup/core/usecases/drill-runs";
import { readText } from "@kots-backup/core/usecases/stored-json";
import { Sha256Meter } from "../store/hashing.ts";
import { checkVeleroTarball } from "../tarball.ts";
import { type LiveDrillResult, type LiveDrillTarget, liveDrill, liveDrillTarget } from "./live.ts";

export const DRILL_CHECKS = ["manifest", "checksums", "backup", "tarball", "resource-list"] as const;
export type DrillCheckName = (typeof DRILL_CHECKS)[number];

export interface DrillCheck {
  name: DrillCheckName;
  ok: boolean;
  detail: string;
}

export interface DrillResult {
  backup: string;
  /** The offline checks passed, and the live drill too when it ran. */
  ok: boolean;
  type?: "full" | "partial";
  app?: string;
  scope?: "full" | "manifests";
  /** RFC 3339: when the backup completed (the restore point). */
  completedAt?: string;
  objects: number;
  bytes: number;
  checks: DrillCheck[];
  /** The first failing check's detail (or the live drill's cause): why a restore could not start from this export. */
  cause?: string;
  /** Offline checks and live drill together. */
  durationMs: number;
  /** Live drill only (`drill.cluster`, run once the offline checks pass): the restore time (RTO). */
  restoreMs?: number;
  /** Live drill only: the restore in the DR cluster, step by step. */
  live?: LiveDrillResult;
}

const RESTORABLE_PHASES = new Set(["Completed", "PartiallyFailed"]);
/** Largest JSON document the drill reads into memory (velero-backup.json, a resource list, a manifest). */
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

async function readDocument(store: ObjectStore, key: string, gunzip = false): Promise<unknown> {
  const body = await store.get(key);
  const text = await readText(gunzip ? body.pipe(createGunzip()) : body, MAX_DOCUMENT_BYTES);
  if (text === undefined) throw new Error(`${key} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return JSON.parse(text);
}

const sorted = (list: Record<string, string[]>) =>
  Object.fromEntries(
    Object.entries(list)
      .filter(([, ids]) => ids.length > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([type, ids]) => [type, [...ids].sort()]),
  );

/** What differs between the tarball's items and the resource list, in a few words. */
function listDifference(inTarball: Record<string, string[]>, listed: Record<string, string[]>): string {
  const ids = (list: Record<string, string[]>) =>
    new Set(Object.entries(list).flatMap(([type, names]) => names.map((n) => `${type} ${n}`)));
  const a = ids(inTarball);
  const b = ids(listed);
  const missing = [...b].filter((x) => !a.has(x));
  const extra = [...a].filter((x) => !b.has(x));
  const some = (xs: string[]) =>
    `${xs.slice(0, 3).join(", ")}${xs.length > 3 ? ` and ${xs.length - 3} more` : ""}`;
  return [
    missing.length ? `listed but not in the tarball: ${some(missing)}` : "",
    extra.length ? `in the tarball but not listed: ${some(extra)}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

/** The backup's `<name>-resource-list.json.gz` as exported, parsed (not yet checked). */
export function readResourceList(store: ObjectStore, backup: string): Promise<unknown> {
  return readDocument(store, veleroBackupKeys(backup).resourceList, true);
}

/** Drills one export. Never throws for a bad export: the result says which check failed and why. */
export async function drillExport(store: ObjectStore, backup: string): Promise<DrillResult> {
  const started = performance.now();
  const result: DrillResult = { backup, ok: false, objects: 0, bytes: 0, checks: [], durationMs: 0 };
  const done = () => {
    result.ok = result.checks.length === DRILL_CHECKS.length && result.checks.every((c) => c.ok);
    result.cause = result.checks.find((c) => !c.ok)?.detail;
    result.durationMs = Math.round(performance.now() - started);
    return result;
  };
  const check = async (name: DrillCheckName, run: () => Promise<string>): Promise<boolean> => {
    try {
      result.checks.push({ name, ok: true, detail: await run() });
      return true;
    } catch (error) {
      result.checks.push({ name, ok: false, detail: (error as Error).message });
      return false;
    }
  };

  let manifest: ExportManifest | undefined;
  const manifestOk = await check("manifest", async () => {
    manifest = parseManifest(await readDocument(store, manifestKey(backup)));
    if (manifest.backup !== backup)
      throw new Error(`manifest names backup ${JSON.stringify(manifest.backup)}`);
    Object.assign(result, {
      type: manifest.type,
      ...(manifest.app ? { app: manifest.app } : {}),
      scope: manifest.scope,
      ...(manifest.completedAt ? { completedAt: manifest.completedAt } : {}),
      objects: manifest.totals.objects,
      bytes: manifest.totals.bytes,
    });
    return `${manifest.scope} scope, ${manifest.totals.objects} objects`;
  });
  if (!manifestOk || !manifest) return done();
  const objects = manifest.objects;

  if (
    !(await check("checksums", async () => {
      for (const object of objects) {
        const info = await store.head(object.key);
        if (!info) throw new Error(`${object.key} is missing`);
        if (info.size !== object.size)
          throw new Error(`${object.key} is ${info.size} bytes, the manifest says ${object.size}`);
        const meter = new Sha256Meter(store.location, object.key);
        for await (const _ of (await store.get(object.key)).pipe(meter)) {
          // hashing as it flows
        }
        if (meter.sha256 !== object.sha256)
          throw new Error(
            `${object.key} does not match its SHA-256 in the manifest (it changed after export)`,
          );
      }
      return `${objects.length} objects hashed`;
    }))
  )
    return done();

  const keys = veleroBackupKeys(backup);
  if (
    !(await check("backup", async () => {
      const document = (await readDocument(store, keys.metadata)) as {
        kind?: unknown;
        metadata?: { name?: unknown };
        status?: { phase?: unknown };
      };
      if (document?.kind !== "Backup") throw new Error(`${keys.metadata} is not a Velero Backup`);
      if (document.metadata?.name !== backup)
        throw new Error(`${keys.metadata} names backup ${JSON.stringify(document.metadata?.name)}`);
      const phase = String(document.status?.phase);
      if (!RESTORABLE_PHASES.has(phase)) throw new Error(`the backup's phase is ${JSON.stringify(phase)}`);
      return `phase ${phase}`;
    }))
  )
    return done();

  let items: Record<string, string[]> = {};
  if (
    !(await check("tarball", async () => {
      const report = await checkVeleroTarball(await store.get(keys.contents));
      if (!report.ok) throw new Error(`${keys.contents}: ${report.problems.join("; ")}`);
      items = report.items;
      return `${report.resources} items, format ${report.formatVersion}`;
    }))
  )
    return done();

  await check("resource-list", async () => {
    const listed = (await readResourceList(store, backup)) as Record<string, string[]>;
    if (typeof listed !== "object" || listed === null || Array.isArray(listed))
      throw new Error(`${keys.resourceList} is not Velero's resource list`);
    const difference = listDifference(sorted(items), sorted(listed));
    if (difference) throw new Error(`the tarball and the resource list differ: ${difference}`);
    return `${Object.values(listed).flat().length} items listed and present`;
  });
  return done();
}

/** The backups of every verified export at the destination (from `manifests/`). */
export async function exportedBackups(store: ObjectStore): Promise<string[]> {
  const names: string[] = [];
  for await (const info of store.list(MANIFESTS_ROOT)) {
    const name = backupNameOfManifestKey(info.key);
    if (name) names.push(name);
  }
  return names;
}

/**
 * What `drill` checks by default: the newest verified export of each kind (full, and partial per app),
 * by its restore point. A manifest that does not parse is drilled too, so that its failure shows.
 */
export async function newestExports(store: ObjectStore): Promise<string[]> {
  const newest = new Map<string, { backup: string; at: string }>();
  for (const backup of await exportedBackups(store)) {
    let kind = `unreadable:${backup}`;
    let at = "";
    try {
      const manifest = parseManifest(await readDocument(store, manifestKey(backup)));
      kind = `${manifest.type}:${manifest.app ?? ""}`;
      at = manifest.completedAt ?? manifest.exportedAt;
    } catch {
      // drilled on its own, to report why
    }
    const current = newest.get(kind);
    if (!current || at > current.at) newest.set(kind, { backup, at });
  }
  return [...newest.values()].map((n) => n.backup).sort();
}

/**
 * One recorded drill run (the CLI, the daemon and the onDemand Lambda alike): drills `backups` (default
 * the newest export of each kind), live too with `live` (`drill.cluster`: each export that passes the
 * offline checks is restored in the DR cluster, drill/live.ts), then records the run at
 * `state/drills/<at>.json` for the `drill` check and `status` (core/usecases/drill-runs.ts), keeping the
 * newest runs only. The DR cluster is connected to first: a bad drill.cluster fails before anything runs.
 */
export async function drillAndRecord(
  store: ObjectStore,
  at: Date,
  options: {
    backups?: readonly string[];
    onBackup?: (backup: string) => void;
    live?: DrillClusterConfig;
    /** Where TLS warnings about the DR cluster go (default stderr). */
    warn?: (message: string) => void;
    /** For tests: the DR cluster target, instead of connecting with `live`. */
    liveTarget?: LiveDrillTarget;
  } = {},
): Promise<{ results: DrillResult[]; run: DrillRun; pruneError?: string }> {
  const target =
    options.liveTarget ??
    (options.live
      ? await liveDrillTarget(options.live, options.warn ? { warn: options.warn } : {})
      : undefined);
  const backups = options.backups ?? (await newestExports(store));
  const results: DrillResult[] = [];
  for (const backup of backups) {
    options.onBackup?.(backup);
    const result = await drillExport(store, backup);
    if (target && result.ok) {
      const live = await liveDrill(target, backup, await readResourceList(store, backup));
      Object.assign(result, {
        ok: live.ok,
        live,
        durationMs: result.durationMs + live.durationMs,
        ...(live.cause !== undefined ? { cause: `live drill, ${live.cause}` } : {}),
        ...(live.restoreMs !== undefined ? { restoreMs: live.restoreMs } : {}),
      });
    }
    results.push(result);
  }
  const run = drillRunOf(at, results);
  const { pruneError } = await recordDrillRun(store, run);
  return { results, run, ...(pruneError !== undefined ? { pruneError } : {}) };
}

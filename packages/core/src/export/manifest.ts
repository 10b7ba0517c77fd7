// The manifest rule: `manifests/<name>.json` (export-layout.ts holds its schema) is built from the
// objects that verified, and only then written, last (plan.ts): a valid manifest for a backup is what
// says its export is whole, so it is never redone, overwritten, or withdrawn.
import { isDeepStrictEqual } from "node:util";
import { isInstanceBackup, requestedAtOf } from "../backups.ts";
import { type ExportManifest, type ManifestObject, parseManifest } from "../export-layout.ts";
import { BackupAnnotation, phaseOf, type VeleroBackup, VeleroPhase } from "../velero.ts";
import type { ExportScope, SkippedObject } from "./plan.ts";

export interface ManifestInput {
  backup: VeleroBackup;
  scope: ExportScope;
  /** The app's slug, for an app (partial) backup whose app is known (appIdOf). */
  app?: string | undefined;
  cluster: string;
  veleroNamespace?: string | undefined;
  /** The source BSL's name and `s3://bucket/prefix` (no credentials), when known. */
  bsl?: { name: string; location?: string | undefined } | undefined;
  /** Every object written and verified, in any order. */
  objects: readonly ManifestObject[];
  skipped: readonly SkippedObject[];
  exportStartedAt: Date;
  exportedAt: Date;
}

/**
 * The manifest of a verified export: objects sorted by key, totals, the backup's kind, phase and
 * times. Throws (InputError `invalid-manifest`) rather than return one the reader would refuse.
 */
export function buildManifest(input: ManifestInput): ExportManifest {
  const { backup, scope } = input;
  const phase = phaseOf(backup);
  const objects = [...input.objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const manifest: ExportManifest = {
    formatVersion: 1,
    backup: backup.metadata.name,
    type: isInstanceBackup(backup) ? "full" : "partial",
    ...(input.app ? { app: input.app } : {}),
    scope,
    volumeData: scope === "full" ? "included" : "absent",
    source: {
      cluster: input.cluster,
      ...(input.veleroNamespace ? { veleroNamespace: input.veleroNamespace } : {}),
      bsl: input.bsl?.name ?? backup.spec?.storageLocation ?? "default",
      ...(input.bsl?.location ? { location: input.bsl.location } : {}),
    },
    phase,
    partiallyFailed: phase === VeleroPhase.PartiallyFailed,
    ...timesOf(backup),
    exportStartedAt: input.exportStartedAt.toISOString(),
    exportedAt: input.exportedAt.toISOString(),
    objects,
    totals: { objects: objects.length, bytes: objects.reduce((sum, o) => sum + o.size, 0) },
    ...(input.skipped.length > 0 ? { skipped: [...input.skipped] } : {}),
  };
  parseManifest(manifest);
  return manifest;
}

/** The kotsadm app id of an app (partial) backup, whose slug the manifest names; undefined otherwise. */
export function appIdOf(backup: VeleroBackup): string | undefined {
  if (isInstanceBackup(backup)) return undefined;
  return backup.metadata.annotations?.[BackupAnnotation.appId] || undefined;
}

/** Whether `manifest` (read from the destination) vouches for an export of backup `name`. */
export function isExportOf(manifest: ExportManifest | undefined, name: string): boolean {
  return manifest?.backup === name;
}

/**
 * A create-only (or replace-this-version) manifest write was refused, and `found` is what the
 * destination now holds: our own manifest ("ours": a retried write whose first attempt was stored, its
 * answer lost), another run's manifest of the same backup ("theirs": that run finished first), or
 * neither ("refused").
 */
export function manifestConflict(
  ours: ExportManifest,
  found: ExportManifest | undefined,
): "ours" | "theirs" | "refused" {
  if (!found) return "refused";
  if (isDeepStrictEqual(found, parseManifest(ours))) return "ours";
  return isExportOf(found, ours.backup) ? "theirs" : "refused";
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

// The ONE module that knows the keys under the export destination's prefix `<p>` (docs/contract.md §6).
// Keys returned here are relative to `<p>`; the object store adds the prefix.
//   velero/                       a valid Velero BSL: only the six folders Velero allows at its top
//     backups/<name>/…            same keys as the source BSL
//     kopia/…, restic/…           file-system-backup repositories (full scope)
//   manifests/<name>.json         written last, after every object verified
//   config/<app>/<name>.tar.gz    KOTS config after an export; manual-<YYYYMMDDTHHMMSSZ>.tar.gz by hand
//   state/claims|alerts|silences|mirror|exports|followed  kots-backup's own state
//   state/alerts/external/<name>.json                    an external recovery point's check record
//   state/alerts/drill.json                              the restore drill's check record
//   state/drills/<RFC 3339 time>.json                    one restore drill run's results
// Anchor: velero pkg/persistence/object_store_layout.go and IsValid in object_store.go.
import { z } from "zod";
import { InputError } from "./errors.ts";

export const VELERO_ROOT = "velero/";
export const MANIFESTS_ROOT = "manifests/";
export const CONFIG_ROOT = "config/";
export const STATE_ROOT = "state/";

/** The only top-level folders Velero accepts in a BSL; any other makes the location Unavailable. */
export const VELERO_TOP_LEVEL = ["backups", "restores", "restic", "kopia", "metadata", "plugins"] as const;
export type VeleroTopLevel = (typeof VELERO_TOP_LEVEL)[number];

/** Folders holding live file-system-backup repositories: never tiered, never expired by age. */
export const REPOSITORY_FOLDERS = ["kopia", "restic"] as const satisfies readonly VeleroTopLevel[];

export function isValidVeleroTopLevel(folder: string): folder is VeleroTopLevel {
  return (VELERO_TOP_LEVEL as readonly string[]).includes(folder);
}

/** The top-level folder of a key under `velero/`, or undefined for keys outside it. */
export function veleroTopLevelOf(key: string): string | undefined {
  if (!key.startsWith(VELERO_ROOT)) return undefined;
  return key.slice(VELERO_ROOT.length).split("/")[0];
}

/** True when writing `key` keeps `velero/` a valid BSL (keys outside `velero/` are always fine). */
export function isAllowedKey(key: string): boolean {
  const folder = veleroTopLevelOf(key);
  return (
    folder === undefined ||
    (isValidVeleroTopLevel(folder) && key.length > VELERO_ROOT.length + folder.length + 1)
  );
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SLUG = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value) || value.includes("..")) {
    throw new InputError("invalid-name", `"${value}" is not a valid ${what}`, {
      field: what,
      fix: `use the ${what} exactly as Kubernetes or KOTS shows it (lower-case letters, digits, - and .)`,
    });
  }
  return value;
}

/** `velero/backups/<name>/`: where a backup's objects live, as in the source BSL. */
export function veleroBackupPrefix(name: string): string {
  return `${VELERO_ROOT}backups/${checked(name, NAME, "backup name")}/`;
}

/** Keys Velero writes for backup `name` (velero pkg/persistence/object_store_layout.go); some are optional. */
export function veleroBackupKeys(name: string): {
  metadata: string;
  contents: string;
  log: string;
  results: string;
  resourceList: string;
} {
  const prefix = veleroBackupPrefix(name);
  return {
    metadata: `${prefix}velero-backup.json`,
    contents: `${prefix}${name}.tar.gz`,
    log: `${prefix}${name}-logs.gz`,
    results: `${prefix}${name}-results.gz`,
    resourceList: `${prefix}${name}-resource-list.json.gz`,
  };
}

/** Where an object of the source BSL is exported: the same key under `velero/` (Velero's layout repeated). */
export function exportedKey(sourceKey: string): string {
  return `${VELERO_ROOT}${sourceKey}`;
}

/** The source BSL key of a key under `velero/` (the inverse of exportedKey). */
export function bslKeyOf(key: string): string {
  if (!key.startsWith(VELERO_ROOT)) throw new Error(`${key} is not under ${VELERO_ROOT}`);
  return key.slice(VELERO_ROOT.length);
}

/** `velero/kopia/`, `velero/restic/`: the exported file-system-backup repositories. */
export const REPOSITORY_PREFIXES = REPOSITORY_FOLDERS.map((folder) => `${VELERO_ROOT}${folder}/`);

/** `manifests/<name>.json`: the export's manifest, written last. */
export function manifestKey(name: string): string {
  return `${MANIFESTS_ROOT}${checked(name, NAME, "backup name")}.json`;
}

/** The backup name of a manifest key, or undefined for any other key. */
export function backupNameOfManifestKey(key: string): string | undefined {
  const match = /^manifests\/([^/]+)\.json$/.exec(key);
  return match?.[1];
}

/** `config/<app>/<backup>.tar.gz`: the app's KOTS config saved after exporting `backup`. */
export function configKey(app: string, backupName: string): string {
  return `${CONFIG_ROOT}${checked(app, SLUG, "app slug")}/${checked(backupName, NAME, "backup name")}.tar.gz`;
}

/** The app and archive name (a backup's, or `manual-<time>`) of a config archive key, or undefined. */
export function configArchiveOfKey(key: string): { app: string; name: string } | undefined {
  const match = /^config\/([^/]+)\/([^/]+)\.tar\.gz$/.exec(key);
  return match ? { app: match[1] as string, name: match[2] as string } : undefined;
}

/** `config/<app>/manual-YYYYMMDDTHHMMSSZ.tar.gz`: a `config-download` at `time`. */
export function manualConfigKey(app: string, time: Date): string {
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${CONFIG_ROOT}${checked(app, SLUG, "app slug")}/manual-${stamp}.tar.gz`;
}

/** `state/claims/<schedule>/<slot>.json`; the slot as RFC 3339 UTC without milliseconds. */
export function claimKey(schedule: string, slot: Date): string {
  return `${STATE_ROOT}claims/${checked(schedule, SLUG, "schedule name")}/${slot.toISOString().replace(/\.\d{3}Z$/, "Z")}.json`;
}

export function claimsPrefix(schedule: string): string {
  return `${STATE_ROOT}claims/${checked(schedule, SLUG, "schedule name")}/`;
}

export function alertStateKey(schedule: string): string {
  return `${STATE_ROOT}alerts/${checked(schedule, SLUG, "schedule name")}.json`;
}

/** `state/alerts/external/<name>.json`: the check record of an external recovery point. */
export function externalAlertStateKey(name: string): string {
  return `${STATE_ROOT}alerts/external/${checked(name, SLUG, "external name")}.json`;
}

/** The restore drill's check name (records, silences, dedup key `kots-backup:<cluster>:drill`). */
export const DRILL_CHECK_NAME = "drill";

/** `state/alerts/drill.json`: the restore drill's check record (config refuses a schedule named `drill`). */
export const DRILL_ALERT_STATE_KEY = `${STATE_ROOT}alerts/drill.json`;

/** A check's record key: `external:<name>` is an external recovery point's, any other a schedule's. */
export function checkRecordKey(check: string): string {
  if (check === DRILL_CHECK_NAME) return DRILL_ALERT_STATE_KEY;
  return check.startsWith("external:") ? externalAlertStateKey(check.slice(9)) : alertStateKey(check);
}

/** `state/drills/`: one object per restore drill run. */
export const DRILLS_PREFIX = `${STATE_ROOT}drills/`;

/** `state/drills/<time>.json`, the time as RFC 3339 UTC with milliseconds (keys sort by time). */
export function drillRunKey(at: Date): string {
  return `${DRILLS_PREFIX}${at.toISOString()}.json`;
}

/** The run time of a drill run key, or undefined for any other key. */
export function drillRunTimeOfKey(key: string): string | undefined {
  const match = /^state\/drills\/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\.json$/.exec(key);
  return match?.[1];
}

/** `state/silences/<schedule>.json`, or `state/silences/external/<name>.json` for `external:<name>`. */
export function silenceKey(check: string): string {
  if (check.startsWith("external:"))
    return `${STATE_ROOT}silences/external/${checked(check.slice(9), SLUG, "external name")}.json`;
  return `${STATE_ROOT}silences/${checked(check, SLUG, "schedule name")}.json`;
}

/** `state/mirror/<source location, as a file name>.json`. */
export function mirrorIndexKey(sourceLocation: string): string {
  const name = sourceLocation
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 200);
  return `${STATE_ROOT}mirror/${name || "source"}.json`;
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: "must be a hex SHA-256" });
const time = z.iso.datetime({ offset: true });

export const ManifestObjectSchema = z.strictObject({
  /** Key relative to `<p>`, e.g. `velero/backups/instance-abcde/velero-backup.json`. */
  key: z.string().min(1),
  size: z.number().int().min(0),
  sha256,
});

/** `manifests/<name>.json`: what was exported and verified. */
export const ExportManifestSchema = z.strictObject({
  formatVersion: z.literal(1),
  backup: z.string().min(1),
  type: z.enum(["full", "partial"]),
  app: z.string().optional(),
  scope: z.enum(["full", "manifests"]),
  /** In manifests scope volume data is absent: the copy restores resources only. */
  volumeData: z.enum(["included", "absent"]),
  source: z.strictObject({
    cluster: z.string().min(1),
    veleroNamespace: z.string().optional(),
    bsl: z.string().optional(),
    /** `s3://bucket/prefix` of the source BSL, when known. */
    location: z.string().optional(),
  }),
  phase: z.string().min(1),
  /** True when a PartiallyFailed backup was exported on purpose (`--include-partially-failed`). */
  partiallyFailed: z.boolean(),
  requestedAt: time.optional(),
  startedAt: time.optional(),
  completedAt: time.optional(),
  exportStartedAt: time,
  exportedAt: time,
  objects: z.array(ManifestObjectSchema),
  totals: z.strictObject({ objects: z.number().int().min(0), bytes: z.number().int().min(0) }),
  /** Repository objects of the source not copied because their key cannot be: key in the BSL, and why. */
  skipped: z.array(z.strictObject({ key: z.string().min(1), reason: z.string().min(1) })).optional(),
});
export type ExportManifest = z.infer<typeof ExportManifestSchema>;
export type ManifestObject = z.infer<typeof ManifestObjectSchema>;

/** Parses a manifest read from the destination; throws InputError `invalid-manifest` naming the field. */
export function parseManifest(input: unknown): ExportManifest {
  const result = ExportManifestSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join(".") ?? "";
  throw new InputError(
    "invalid-manifest",
    `export manifest ${field || "document"}: ${issue?.message ?? "invalid"}`,
    {
      field,
      fix: "re-export the backup; a manifest is only written after every object verified",
    },
  );
}

/** `state/exports/<backup>.json`: an export that was asked for and the next reconcile run continues. */
export const EXPORT_REQUESTS_PREFIX = `${STATE_ROOT}exports/`;

export function exportRequestKey(backup: string): string {
  return `${EXPORT_REQUESTS_PREFIX}${backup}.json`;
}

/** `state/followed/<backup>.json`: a backup whose terminal event was emitted (so it is emitted once). */
export const FOLLOWED_PREFIX = `${STATE_ROOT}followed/`;

export function followedKey(backup: string): string {
  return `${FOLLOWED_PREFIX}${backup}.json`;
}

// What `kots-backup ls` lists: the Backups `kubectl kots get backups` lists (instance backups of this
// kotsadm, improved-DR pairs rolled up into one entry), plus app backups of this kotsadm's apps.
import type { SlotClaim } from "./state.ts";
import {
  BackupAnnotation,
  BackupLabel,
  KotsStatus,
  kotsStatusOf,
  phaseOf,
  type VeleroBackup,
  VeleroPhase,
} from "./velero.ts";

export const BackupType = {
  /** Instance snapshot: kotsadm plus every app; the only kind usable for disaster recovery. */
  full: "full",
  /** App snapshot of one app. */
  partial: "partial",
} as const;
export type BackupType = (typeof BackupType)[keyof typeof BackupType];

export const Trigger = { schedule: "schedule", manual: "manual" } as const;
export type Trigger = (typeof Trigger)[keyof typeof Trigger];

/** One `ls` entry (docs/contract.md §2). Times are RFC 3339 UTC. */
export interface BackupSummary {
  name: string;
  type: BackupType;
  app?: string;
  phase: string;
  status: KotsStatus;
  trigger: Trigger;
  schedule?: string;
  requestedAt?: string;
  startedAt?: string;
  completedAt?: string;
  expiresAt?: string;
  errors: number;
  warnings: number;
}

export interface KotsApp {
  id: string;
  slug: string;
}

export interface ListBackupsOptions {
  /** kotsadm's namespace: instance backups must carry it in `kots.io/kotsadm-deploy-namespace`. */
  kotsadmNamespace: string;
  /** This kotsadm's apps; app backups are matched by `kots.io/app-id`. */
  apps?: readonly KotsApp[];
  /** kots-backup's slot claims, to mark the backups it started for a schedule. */
  claims?: readonly SlotClaim[];
  /** `ls --app <slug>`: only this app's backups. */
  app?: string;
}

const annotation = (backup: VeleroBackup, key: string) => backup.metadata.annotations?.[key];

/** KOTS's `IsInstanceBackup`: improved-DR marker present, or the legacy `kots.io/instance: "true"`. */
export function isInstanceBackup(backup: VeleroBackup): boolean {
  return (
    annotation(backup, BackupAnnotation.drVersion) !== undefined ||
    annotation(backup, BackupAnnotation.instance) === "true"
  );
}

/** The `kubectl kots get backups` filter: an instance backup made by the kotsadm in `kotsadmNamespace`. */
export function isKotsadmInstanceBackup(backup: VeleroBackup, kotsadmNamespace: string): boolean {
  return (
    isInstanceBackup(backup) && annotation(backup, BackupAnnotation.kotsadmNamespace) === kotsadmNamespace
  );
}

/** An app ("partial") backup of one of `appIds`. */
export function isAppBackup(backup: VeleroBackup, appIds: ReadonlySet<string>): boolean {
  const appId = annotation(backup, BackupAnnotation.appId);
  return appId !== undefined && appIds.has(appId) && !isInstanceBackup(backup);
}

/** Orders phases from best to worst, for rolling up a pair into the phase a person should see. */
function phaseRank(phase: string): number {
  if (phase === VeleroPhase.Completed) return 0;
  if (phase === VeleroPhase.Deleting) return 1;
  if (phase === VeleroPhase.FailedValidation) return 5;
  if (phase === VeleroPhase.Failed) return 4;
  if (phase.includes("Fail")) return 3;
  return 2;
}

/** KOTS's rollup of several statuses: any Failed, else any InProgress, else any Deleting, else Completed. */
export function rollupStatus(statuses: readonly KotsStatus[]): KotsStatus {
  for (const status of [KotsStatus.Failed, KotsStatus.InProgress, KotsStatus.Deleting]) {
    if (statuses.includes(status)) return status;
  }
  return KotsStatus.Completed;
}

const min = (values: (string | undefined)[]) => values.filter((v) => v !== undefined).sort()[0];
const max = (values: (string | undefined)[]) =>
  values
    .filter((v) => v !== undefined)
    .sort()
    .at(-1);

/** When the Backup was requested: kotsadm's `kots.io/snapshot-requested`, else its creation time. */
export function requestedAtOf(backup: VeleroBackup): string | undefined {
  return annotation(backup, BackupAnnotation.requested) ?? backup.metadata.creationTimestamp;
}

/**
 * Times on Backups come from the cluster's clock (or an annotation anyone can edit); ours may differ by
 * this much. A time further ahead than now + this has not happened yet: it is never taken at its word.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * 60_000;

/** The latest instant (ms) a time the cluster supplies may name: now + the clock-skew allowance. */
export function latestCredibleMs(now: Date): number {
  return now.getTime() + CLOCK_SKEW_TOLERANCE_MS;
}

/**
 * Whether the Backup was requested in [from, now + skew]: a slot's adoption window. A request dated
 * after that has not happened, so it satisfies no slot (else it would stand in for every later one).
 */
export function requestedWithin(backup: VeleroBackup, from: Date, now: Date): boolean {
  const at = Date.parse(requestedAtOf(backup) ?? "");
  return at >= from.getTime() && at <= latestCredibleMs(now);
}

/** Whether an `ls` entry names a request, start or completion beyond now + skew (expiry is meant to). */
export function isFutureDated(
  summary: Pick<BackupSummary, "requestedAt" | "startedAt" | "completedAt">,
  now: Date,
): boolean {
  const latest = latestCredibleMs(now);
  return [summary.requestedAt, summary.startedAt, summary.completedAt].some(
    (t) => t !== undefined && Date.parse(t) > latest,
  );
}

interface Group {
  name: string;
  members: VeleroBackup[];
  /** `replicated.com/backup-count` of an improved-DR pair; undefined for a single Backup. */
  expectedCount?: number;
}

/** Groups improved-DR pairs by `replicated.com/backup-name`; every other Backup is its own group. */
export function groupBackups(backups: readonly VeleroBackup[]): Group[] {
  const groups = new Map<string, Group>();
  for (const backup of backups) {
    const pairName = backup.metadata.labels?.[BackupLabel.drBackupName];
    const key = pairName ?? `\u0000${backup.metadata.name}`;
    let group = groups.get(key);
    if (!group) {
      group = { name: pairName ?? backup.metadata.name, members: [] };
      groups.set(key, group);
    }
    group.members.push(backup);
    const count = Number(annotation(backup, BackupAnnotation.drBackupCount));
    if (pairName !== undefined && Number.isInteger(count) && count > 0) group.expectedCount = count;
  }
  return [...groups.values()];
}

/** Summary of one Backup or improved-DR pair: the `ls` entry. `app` is the slug for an app backup. */
export function toBackupSummary(
  group: Group,
  context: { app?: string; claims?: readonly SlotClaim[] } = {},
): BackupSummary {
  const { members } = group;
  const phases = members.map(phaseOf);
  const phase = [...phases].sort((a, b) => phaseRank(b) - phaseRank(a))[0] ?? VeleroPhase.New;
  const pairIncomplete = group.expectedCount !== undefined && members.length !== group.expectedCount;
  const status = pairIncomplete ? KotsStatus.Failed : rollupStatus(phases.map(kotsStatusOf));
  const claim = context.claims?.find((c) => c.backup === group.name);
  const markedScheduled = members.some((m) => annotation(m, BackupAnnotation.trigger) === Trigger.schedule);
  const allDone = members.every((m) => m.status?.completionTimestamp !== undefined);
  const summary: BackupSummary = {
    name: group.name,
    type: members.some(isInstanceBackup) ? BackupType.full : BackupType.partial,
    phase,
    status,
    trigger: claim || markedScheduled ? Trigger.schedule : Trigger.manual,
    errors: members.reduce((sum, m) => sum + (m.status?.errors ?? 0), 0),
    warnings: members.reduce((sum, m) => sum + (m.status?.warnings ?? 0), 0),
  };
  const optional = {
    app: context.app,
    schedule: claim?.schedule,
    requestedAt: min(members.map(requestedAtOf)),
    startedAt: min(members.map((m) => m.status?.startTimestamp)),
    completedAt: allDone ? max(members.map((m) => m.status?.completionTimestamp)) : undefined,
    expiresAt: min(members.map((m) => m.status?.expiration)),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (summary as unknown as Record<string, unknown>)[key] = normalizeTime(key, value);
  }
  return summary;
}

/** Times are shown in RFC 3339 UTC; an unparsable one is kept as written rather than dropped. */
function normalizeTime(key: string, value: string): string {
  if (key === "app" || key === "schedule") return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString().replace(".000Z", "Z");
}

/** Newest first: by request time (else start time), then name descending; undated entries last. */
export function compareNewestFirst(a: BackupSummary, b: BackupSummary): number {
  const time = (s: BackupSummary) => {
    const ms = Date.parse(s.requestedAt ?? s.startedAt ?? "");
    return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
  };
  const ta = time(a);
  const tb = time(b);
  if (ta !== tb) return tb > ta ? 1 : -1;
  return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}

/** The `ls` listing from the raw Backups of Velero's namespace, newest first. */
export function listBackups(backups: readonly VeleroBackup[], options: ListBackupsOptions): BackupSummary[] {
  const slugById = new Map((options.apps ?? []).map((app) => [app.id, app.slug]));
  const appIds = new Set(slugById.keys());
  const instance = backups.filter((b) => isKotsadmInstanceBackup(b, options.kotsadmNamespace));
  const app = backups.filter((b) => isAppBackup(b, appIds));
  const summaries: BackupSummary[] = [];
  if (options.app === undefined) {
    for (const group of groupBackups(instance))
      summaries.push(toBackupSummary(group, { claims: options.claims }));
  }
  for (const backup of app) {
    const slug = slugById.get(annotation(backup, BackupAnnotation.appId) ?? "");
    if (options.app !== undefined && slug !== options.app) continue;
    summaries.push(
      toBackupSummary(
        { name: backup.metadata.name, members: [backup] },
        { app: slug, claims: options.claims },
      ),
    );
  }
  return summaries.sort(compareNewestFirst);
}

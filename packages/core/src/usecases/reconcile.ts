// Reconcile: the decisions the local daemon, the Lambdas and the CLI share, made here once.
// - `scheduledRun`: what a schedule slot asks of runBackup (the `scheduled` Lambda and the daemon).
// - `exportRequestFor`: the export engine's request from the config (CLI `export`, daemon, Lambdas).
// - `pendingExports`: what is waiting to be exported. Export requests first (oldest first), then, for
//   each schedule with `export: true` that is not paused, its newest backup in an exportable phase,
//   whoever started it (kots-backup, kotsadm's own scheduler, the admin console), when it has no
//   manifest yet. Only the newest: it is what `verify`'s export check looks at, and an older backup of
//   the same schedule is superseded as a restore point.
import { type BackupSummary, BackupType, compareNewestFirst, isFutureDated } from "../backups.ts";
import type { ExportConfig, ScheduleConfig } from "../config.ts";
import { ExitCode, InputError, isKotsBackupError } from "../errors.ts";
import { manifestKey } from "../export-layout.ts";
import { matchesSchedule } from "../freshness.ts";
import type { ObjectStore } from "../ports.ts";
import { VeleroPhase } from "../velero.ts";
import { type ExportScopeChoice, finishExportRequest, pendingExportRequests } from "./export-requests.ts";
import type { RunBackupInput } from "./run-backup.ts";

/** The runBackup input of one schedule slot. */
export function scheduledRun(schedule: ScheduleConfig, slot: string): RunBackupInput {
  return {
    type: schedule.type,
    ...(schedule.app ? { app: schedule.app } : {}),
    wait: false,
    timeoutMs: schedule.maxDuration,
    trigger: "schedule",
    schedule: schedule.name,
    slot,
    fields: { app: `schedules.${schedule.name}.app`, type: `schedules.${schedule.name}.type` },
  };
}

/** What the export engine is asked (its `ExportRequest`), from the config and the caller's choices. */
export interface ExportOrder {
  backup?: string;
  latest?: boolean;
  /** With `latest`: the kind of backup to take the newest of (default full). */
  type?: BackupType;
  app?: string;
  scope: ExportScopeChoice;
  includePartiallyFailed: boolean;
  keepLast: number;
  configApps?: readonly string[];
  schedule?: string;
}

/** What a caller may choose about an export (CLI flags, an on-demand event, a pending job). */
export interface ExportChoice {
  backup?: string;
  latest?: boolean;
  /** With `latest`: the kind of backup (checked with `app` and `schedule` by latestKindOf). */
  type?: BackupType;
  app?: string;
  scope?: ExportScopeChoice;
  includePartiallyFailed?: boolean;
  schedule?: string;
}

/**
 * The engine's request from the config and the caller's choice. With `latest`, the kind of backup is
 * resolved here (latestKindOf: full by default, a schedule's type and app, or type/app), so the CLI and
 * an on-demand event mean the same by it; `fields` names the caller's flags or event fields in its
 * errors. Without `latest`, `schedule` only names the schedule the export belongs to (its dedup key).
 * Throws InputError before anything is read.
 */
export function exportRequestFor(
  config: { export: ExportConfig; schedules: readonly ScheduleConfig[] },
  choice: ExportChoice = {},
  fields: KindFields = CLI_KIND_FIELDS,
): ExportOrder {
  const kind = choice.latest ? latestKindOf(config.schedules, choice, fields) : undefined;
  return {
    ...(choice.backup !== undefined ? { backup: choice.backup } : {}),
    ...(choice.latest ? { latest: true } : {}),
    ...kind,
    scope: choice.scope ?? config.export.scope,
    includePartiallyFailed: choice.includePartiallyFailed ?? config.export.includePartiallyFailed,
    keepLast: config.export.keepLast,
    ...(config.export.configApps ? { configApps: config.export.configApps } : {}),
    ...(choice.schedule ? { schedule: choice.schedule } : {}),
  };
}

/** One export waiting to run. */
export interface ExportJob {
  backup: string;
  schedule?: string;
  scope?: ExportScopeChoice;
  includePartiallyFailed?: boolean;
  /** From an export request record: finished (failed) on a definite input error. */
  requested: boolean;
}

const exportable = (phase: string, includePartiallyFailed: boolean) =>
  phase === VeleroPhase.Completed || (includePartiallyFailed && phase === VeleroPhase.PartiallyFailed);

/** A pending job as the caller's choice: its backup, and what its request record asked for. */
export function choiceOf(job: ExportJob): ExportChoice {
  return {
    backup: job.backup,
    ...(job.schedule ? { schedule: job.schedule } : {}),
    ...(job.scope ? { scope: job.scope } : {}),
    ...(job.includePartiallyFailed !== undefined
      ? { includePartiallyFailed: job.includePartiallyFailed }
      : {}),
  };
}

/** A kind of backup: full (instance), or partial of one app. */
export interface BackupKind {
  type: BackupType;
  app?: string;
}

/**
 * The newest backup of `kind` to export (no I/O): in an exportable phase, one of `names` (the Velero
 * Backups that exist: the engine exports one Backup, not an improved-DR pair's rolled-up entry). A
 * backup the cluster dates beyond now + the clock-skew allowance is never "newest": it would stand in
 * front of every real backup for ever (verify reports it as `clock-skew`).
 */
export function newestToExport(
  backups: readonly BackupSummary[],
  kind: BackupKind,
  names: ReadonlySet<string>,
  includePartiallyFailed: boolean,
  now: Date,
): BackupSummary | undefined {
  return backups
    .filter(
      (b) =>
        matchesSchedule(b, kind) &&
        exportable(b.phase, includePartiallyFailed) &&
        names.has(b.name) &&
        !isFutureDated(b, now),
    )
    .sort(compareNewestFirst)[0];
}

/** Per exported, active schedule: its newest backup to export (newestToExport). */
export function exportCandidates(
  schedules: readonly ScheduleConfig[],
  backups: readonly BackupSummary[],
  names: ReadonlySet<string>,
  includePartiallyFailed: boolean,
  now: Date,
): Array<{ backup: string; schedule: string }> {
  const out: Array<{ backup: string; schedule: string }> = [];
  for (const schedule of schedules) {
    if (!schedule.export || schedule.paused) continue;
    const newest = newestToExport(backups, schedule, names, includePartiallyFailed, now);
    if (newest) out.push({ backup: newest.name, schedule: schedule.name });
  }
  return out;
}

/** How the caller's input names the kind's fields (CLI flags by default). */
export interface KindFields {
  latest: string;
  schedule: string;
  type: string;
  app: string;
}

const CLI_KIND_FIELDS: KindFields = {
  latest: "--latest",
  schedule: "--schedule",
  type: "--type",
  app: "--app",
};

/** What a caller may say about `latest`'s kind (CLI flags, event keys). */
export interface LatestChoice {
  latest?: boolean;
  schedule?: string;
  type?: string;
  app?: string;
}

const usage = (field: string, message: string, fix: string) =>
  new InputError("usage", `${field}: ${message}`, { field, fix });

/**
 * Refuses a combination that cannot be meant (no config needed): the kind's fields only with `latest`;
 * a schedule or a type, not both; an app exactly with a partial type. Throws InputError naming the field.
 */
export function checkLatestChoice(choice: LatestChoice, fields: KindFields = CLI_KIND_FIELDS): void {
  if (!choice.latest) {
    const given = (["schedule", "type", "app"] as const).find((k) => choice[k] !== undefined);
    if (given)
      throw usage(
        fields[given],
        `only chooses the backup of ${fields.latest}`,
        `pass ${fields.latest}, or drop it`,
      );
    return;
  }
  if (choice.schedule !== undefined) {
    const other = choice.type !== undefined ? fields.type : choice.app !== undefined ? fields.app : undefined;
    if (other)
      throw usage(
        other,
        `give ${fields.schedule} or ${other}, not both`,
        `drop ${other}: the schedule says it`,
      );
    return;
  }
  const type = choice.type ?? BackupType.full;
  if (type !== BackupType.full && type !== BackupType.partial)
    throw usage(fields.type, `must be full or partial, not "${type}"`, "use full or partial");
  if (type === BackupType.partial && choice.app === undefined)
    throw usage(fields.app, "is required with partial", "name the app's slug (kubectl kots get apps)");
  if (type === BackupType.full && choice.app !== undefined)
    throw usage(
      fields.app,
      "only with partial (a full backup holds every app)",
      `add ${fields.type} partial`,
    );
}

/**
 * The kind `latest` picks from: the named schedule's (type and app), else the type (and app) asked,
 * else full backups only, so that an app backup never stands in for the instance one. Undefined
 * without `latest`. Throws InputError naming the field (checkLatestChoice, or an unknown schedule).
 */
export function latestKindOf(
  schedules: readonly Pick<ScheduleConfig, "name" | "type" | "app">[],
  choice: LatestChoice,
  fields: KindFields = CLI_KIND_FIELDS,
): BackupKind | undefined {
  checkLatestChoice(choice, fields);
  if (!choice.latest) return undefined;
  if (choice.schedule !== undefined) {
    const schedule = schedules.find((s) => s.name === choice.schedule);
    if (!schedule) {
      const known = schedules.map((s) => s.name);
      throw usage(
        fields.schedule,
        `no schedule named "${choice.schedule}" in the config`,
        known.length > 0 ? `use one of: ${known.join(", ")}` : "add the schedule to the config first",
      );
    }
    return { type: schedule.type, ...(schedule.app !== undefined ? { app: schedule.app } : {}) };
  }
  const type = (choice.type ?? BackupType.full) as BackupType;
  return type === BackupType.partial && choice.app !== undefined ? { type, app: choice.app } : { type };
}

/** The exports waiting to run, in order: requests first, then scheduled backups with no manifest yet. */
export async function pendingExports(
  schedules: readonly ScheduleConfig[],
  config: Pick<ExportConfig, "includePartiallyFailed">,
  deps: {
    backups: () => Promise<{ summaries: BackupSummary[]; names: ReadonlySet<string> }>;
    destination: ObjectStore;
    now: Date;
  },
): Promise<ExportJob[]> {
  const jobs = new Map<string, ExportJob>();
  for (const r of await pendingExportRequests(deps.destination)) {
    jobs.set(r.backup, {
      backup: r.backup,
      requested: true,
      ...(r.schedule ? { schedule: r.schedule } : {}),
      ...(r.scope ? { scope: r.scope } : {}),
      ...(r.includePartiallyFailed !== undefined ? { includePartiallyFailed: r.includePartiallyFailed } : {}),
    });
  }
  if (!schedules.some((s) => s.export && !s.paused)) return [...jobs.values()];
  const { summaries, names } = await deps.backups();
  const candidates = exportCandidates(schedules, summaries, names, config.includePartiallyFailed, deps.now);
  for (const { backup, schedule } of candidates) {
    if (jobs.has(backup) || (await deps.destination.head(manifestKey(backup)))) continue;
    jobs.set(backup, { backup, schedule, requested: false });
  }
  return [...jobs.values()];
}

/** How one export job ended. `done: false` without an error: it did not fit and continues later. */
export interface ExportJobOutcome {
  backup: string;
  schedule?: string;
  done: boolean;
  verified?: boolean;
  error?: string;
}

/**
 * Runs the jobs in order with `run` (the engine, bounded or not by the caller's time). A job that throws
 * is reported and the next one runs; a request whose export failed on a definite input error (the
 * backup is gone or not exportable: exit 2) is finished as failed, since asking again cannot help.
 * A job that did not fit stops the loop: the next run continues it first.
 */
export async function runExportJobs(
  jobs: readonly ExportJob[],
  run: (job: ExportJob) => Promise<ExportJobOutcome>,
  deps: { destination: ObjectStore; now: () => Date; signal?: AbortSignal },
): Promise<{ outcomes: ExportJobOutcome[]; stoppedEarly: boolean }> {
  const outcomes: ExportJobOutcome[] = [];
  for (const job of jobs) {
    if (deps.signal?.aborted) return { outcomes, stoppedEarly: true };
    const where = { backup: job.backup, ...(job.schedule ? { schedule: job.schedule } : {}) };
    let outcome: ExportJobOutcome;
    try {
      outcome = await run(job);
    } catch (error) {
      if (job.requested && isKotsBackupError(error) && error.exitCode === ExitCode.usage) {
        await finishExportRequest(deps.destination, job.backup, "failed", deps.now());
      }
      outcomes.push({ ...where, done: false, error: error instanceof Error ? error.message : String(error) });
      continue;
    }
    outcomes.push(outcome);
    if (!outcome.done) return { outcomes, stoppedEarly: true };
    if (job.requested) {
      const result = outcome.verified === false ? "failed" : "exported";
      await finishExportRequest(deps.destination, job.backup, result, deps.now());
    }
  }
  return { outcomes, stoppedEarly: false };
}

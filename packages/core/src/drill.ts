// The restore drill's check (`drill`): the offline drill (`kots-backup drill`) runs on `drill.schedule`
// and each run is recorded (usecases/drill-runs.ts); this module is the check's pure evaluation, with the
// schedules' states and grace rule (freshness.ts judgeFindings), paged under kots-backup:<cluster>:drill.
//
// - `drill-failed`: the newest run had an export a restore could not start from (or nothing to drill).
//   Down at once; it ends with the next run that passes.
// - `drill-missed`: no run since the expected slot (the first slot after the newest run, or after the
//   check was first seen), by that slot + grace.
import type { DrillConfig } from "./config.ts";
import { DRILL_CHECK_NAME } from "./export-layout.ts";
import {
  CheckReason,
  type CheckResult,
  CheckState,
  type Finding,
  judgeFindings,
  SLOT_TOLERANCE_MS,
} from "./freshness.ts";
import { nextStep } from "./runbook.ts";
import { nextSlotAfter } from "./schedule.ts";
import { escapeControl } from "./text.ts";

/** One drilled export, as a run records it. */
export interface DrillRunResult {
  backup: string;
  ok: boolean;
  /** Why a restore could not start from it (the first failing check's detail). */
  cause?: string;
  durationMs: number;
  /** Live drill only: the restore time (RTO), from the Restore's creation to Completed in the DR cluster. */
  restoreMs?: number;
}

/** One drill run: `state/drills/<at>.json`. */
export interface DrillRun {
  /** RFC 3339 UTC with milliseconds: when the run started (its key). */
  at: string;
  /** Every drilled export passed, and there was at least one. */
  ok: boolean;
  results: DrillRunResult[];
}

/** The drill fields the evaluation needs (a `DrillConfig` fits; grace in ms). */
export type DrillCheckConfig = Pick<DrillConfig, "schedule" | "timezone" | "grace" | "paused">;

export interface DrillCheckResult extends CheckResult {
  /** The newest run's failing exports (backup and cause), when it failed. */
  drill: { lastRunAt?: string; failed: { backup: string; cause?: string }[] };
}

const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Date.parse(text));
const toIso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");

/** A run's outcome from its results: ok only when there was something to drill and all of it passed. */
export function drillRunOf(at: Date, results: readonly DrillRunResult[]): DrillRun {
  return {
    at: at.toISOString(),
    ok: results.length > 0 && results.every((r) => r.ok),
    results: results.map((r) => ({
      backup: r.backup,
      ok: r.ok,
      ...(r.cause !== undefined ? { cause: r.cause } : {}),
      durationMs: r.durationMs,
      ...(r.restoreMs !== undefined ? { restoreMs: r.restoreMs } : {}),
    })),
  };
}

/**
 * The drill check at `now`, from the newest run (if any) and when the check was first seen
 * (its record's `firstSeenAt`; default `now`).
 */
export function evaluateDrill(
  drill: DrillCheckConfig,
  newest: DrillRun | undefined,
  now: Date,
  firstSeenAt?: string,
): DrillCheckResult {
  const at = now.getTime();
  const runAt = ms(newest?.at);
  const hasRun = newest !== undefined && !Number.isNaN(runAt);
  const failed = hasRun && !newest.ok ? newest.results.filter((r) => !r.ok) : [];
  const result: DrillCheckResult = {
    name: DRILL_CHECK_NAME,
    state: CheckState.up,
    reasons: [],
    drill: {
      ...(hasRun ? { lastRunAt: toIso(runAt) } : {}),
      failed: failed.map((r) => ({ backup: r.backup, ...(r.cause !== undefined ? { cause: r.cause } : {}) })),
    },
  };
  if (failed[0]) result.backups = { [CheckReason.drillFailed]: failed[0].backup };
  if (hasRun && newest.ok) result.lastSuccessAt = toIso(runAt);
  if (hasRun) result.lastAttemptAt = toIso(runAt);
  if (drill.paused) return { ...result, state: CheckState.paused };

  const firstSeen = Number.isNaN(ms(firstSeenAt)) ? at : ms(firstSeenAt);
  const coveredUntil = hasRun ? Math.max(runAt + SLOT_TOLERANCE_MS, firstSeen) : firstSeen;
  const slot = nextSlotAfter({ cron: drill.schedule, timezone: drill.timezone }, new Date(coveredUntil));
  const downAfter = slot === undefined ? undefined : slot.getTime() + drill.grace;
  if (downAfter !== undefined) result.expectedBy = toIso(downAfter);

  const findings: Finding[] = [];
  if (downAfter !== undefined && at >= downAfter)
    findings.push({ reason: CheckReason.drillMissed, downAt: downAfter });
  if (hasRun && !newest.ok) findings.push({ reason: CheckReason.drillFailed, downAt: runAt });
  const judged = judgeFindings(findings, at);
  if (judged?.state === CheckState.down)
    return {
      ...result,
      state: CheckState.down,
      reasons: findings.map((f) => f.reason),
      since: toIso(judged.since),
    };
  if (slot && at >= slot.getTime())
    return { ...result, state: CheckState.grace, since: toIso(slot.getTime()) };
  if (!hasRun) return { ...result, state: CheckState.new, since: toIso(firstSeen) };
  return result;
}

/** `Check Down` text of the drill: since when, what failed (or that no run came), the next step. */
export function drillDownMessage(cluster: string, check: DrillCheckResult, since: string): string {
  const what = check.reasons.includes(CheckReason.drillFailed)
    ? `the newest restore drill (${check.drill.lastRunAt}) failed: ${
        check.drill.failed.map((f) => `${f.backup}${f.cause ? ` (${f.cause})` : ""}`).join("; ") ||
        "no verified export to drill"
      }`
    : `no restore drill has run since ${check.drill.lastRunAt ?? "the check was first seen"}`;
  const step = nextStep(check.reasons[0] ?? CheckReason.drillMissed, {
    ...(check.drill.failed[0] ? { backup: check.drill.failed[0].backup } : {}),
  });
  return `Restore drill on cluster ${cluster} is down since ${since}: ${what}. Next: ${step}`;
}

/** `Check Up` text of the drill. */
export function drillUpMessage(cluster: string, check: DrillCheckResult, downSince: string): string {
  return `Restore drill UP on ${cluster}: the drill at ${check.drill.lastRunAt ?? "-"} passed (down since ${downSince}).`;
}

/** One drill run as `status` shows it: when, whether it passed, how long it took (all its exports). */
export interface DrillRunSummary {
  at: string;
  ok: boolean;
  durationMs: number;
  /** The exports that failed, with why. */
  failed: { backup: string; cause?: string }[];
}

/** How many runs `status` lists (newest first). */
export const DRILL_RUNS_SHOWN = 10;

/** The runs `status` lists, newest first (as read). */
export function drillRunSummaries(runs: readonly DrillRun[]): DrillRunSummary[] {
  return runs.slice(0, DRILL_RUNS_SHOWN).map((run) => ({
    at: run.at,
    ok: run.ok,
    durationMs: run.results.reduce((sum, r) => sum + r.durationMs, 0),
    failed: run.results
      .filter((r) => !r.ok)
      .map((r) => ({ backup: r.backup, ...(r.cause !== undefined ? { cause: r.cause } : {}) })),
  }));
}

/** `1.2 s`: a drill's duration for people. */
export function drillSeconds(durationMs: number): string {
  return `${(durationMs / 1000).toFixed(1)} s`;
}

/**
 * The text section of `status`: one line per run, then the durations oldest → newest (the trend).
 * Causes quote the destination's objects: each is escaped to stay on its line.
 */
export function renderDrillRuns(runs: readonly DrillRunSummary[]): string {
  if (runs.length === 0) return "\nRESTORE DRILLS\nno drill run recorded yet";
  const lines = ["", "RESTORE DRILLS (newest first)"];
  for (const run of runs) {
    const why = escapeControl(
      run.failed.map((f) => `${f.backup}${f.cause ? `: ${f.cause}` : ""}`).join("; "),
    );
    lines.push(
      `${run.at}  ${run.ok ? "ok    " : "FAILED"}  ${drillSeconds(run.durationMs).padStart(8)}${why ? `  ${why}` : ""}`,
    );
  }
  lines.push(
    `durations, oldest → newest: ${[...runs]
      .reverse()
      .map((r) => drillSeconds(r.durationMs))
      .join(" → ")}`,
  );
  return lines.join("\n");
}

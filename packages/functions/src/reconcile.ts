// `reconcile`: every 5 minutes (infra/schedules.ts). In order, each step on its own (one failing does not
// stop the next), and stopping at the graceful signal:
//   1. follow the backups kots-backup started for its schedules (slot claims) and put their terminal
//      events (`Backup Completed` / `Backup Failed`) on the event stream, once each;
//   2. verify every schedule's freshness and record alert transitions (their `Check Down` / `Check Up`
//      go on the event stream, where notify pages), then report the `Heartbeat` the dead man's switch
//      alarm watches;
//   3. run pending exports, oldest first, in the time left: export requests an on-demand export left
//      unfinished, then Completed backups of schedules with `export: true` that have no manifest yet.
//      An export that does not fit is continued by the next run (verified objects are kept).
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Runtime } from "@kots-backup/adapters/runtime/index";
import { isKotsBackupError, type ObjectStore } from "@kots-backup/core";
import { manifestKey } from "@kots-backup/core/export-layout";
import type { SlotClaim } from "@kots-backup/core/state";
import type { VerifyReport } from "@kots-backup/core/usecases/verify";
import { phaseOf } from "@kots-backup/core/velero";
import { type ExportOutcome, exportWithin, finishRequest, pendingRequests } from "./lib/export.ts";
import { FOLLOW_WINDOW_MS, type FollowedBackup, followClaimedBackups } from "./lib/follow.ts";
import { type HandlerTools, lambdaHandler } from "./lib/handler.ts";
import { type LambdaRuntime, lambdaRuntime } from "./lib/runtime.ts";
import { verifyNow } from "./lib/verify.ts";

export interface ReconcileSummary {
  followed: FollowedBackup[];
  verify?: VerifyReport;
  exports: Array<{ backup: string; schedule?: string; done: boolean; verified?: boolean; error?: string }>;
  /** Steps that failed this run (the next run tries again), with the redacted reason. */
  errors: Array<{ step: "follow" | "verify" | "exports"; code: string; message: string }>;
  /** The graceful signal stopped the run before everything was done. */
  stoppedEarly: boolean;
}

interface ExportJob {
  backup: string;
  schedule?: string;
  scope?: "auto" | "full" | "manifests";
  includePartiallyFailed?: boolean;
  /** From an on-demand request record: finished (failed) on a definite input error. */
  requested: boolean;
}

/** What is waiting to be exported: unfinished requests first, then scheduled backups with no manifest. */
async function exportJobs(
  runtime: Runtime,
  store: ObjectStore,
  claims: readonly SlotClaim[],
): Promise<ExportJob[]> {
  const jobs = new Map<string, ExportJob>();
  for (const r of await pendingRequests(store)) {
    jobs.set(r.backup, {
      backup: r.backup,
      requested: true,
      ...(r.schedule ? { schedule: r.schedule } : {}),
      ...(r.scope ? { scope: r.scope } : {}),
      ...(r.includePartiallyFailed !== undefined ? { includePartiallyFailed: r.includePartiallyFailed } : {}),
    });
  }
  const exporting = new Set(runtime.config.schedules.filter((s) => s.export).map((s) => s.name));
  const since = Date.now() - FOLLOW_WINDOW_MS;
  const cluster = await runtime.cluster();
  const accepted = new Set([
    "Completed",
    ...(runtime.config.export.includePartiallyFailed ? ["PartiallyFailed"] : []),
  ]);
  const recent = claims
    .filter(
      (c) =>
        c.outcome === "started" && c.backup && exporting.has(c.schedule) && Date.parse(c.claimedAt) >= since,
    )
    .sort((a, b) => a.slot.localeCompare(b.slot));
  for (const claim of recent) {
    const name = claim.backup as string;
    if (jobs.has(name) || (await store.head(manifestKey(name)))) continue;
    const backup = await cluster.getBackup(name);
    if (!backup || !accepted.has(phaseOf(backup))) continue;
    jobs.set(name, { backup: name, schedule: claim.schedule, requested: false });
  }
  return [...jobs.values()];
}

async function runExports(
  lambda: LambdaRuntime,
  claims: readonly SlotClaim[],
  tools: HandlerTools,
  summary: ReconcileSummary,
): Promise<void> {
  const { runtime } = lambda;
  const store = await runtime.destination();
  for (const job of await exportJobs(runtime, store, claims)) {
    if (tools.signal.aborted) {
      summary.stoppedEarly = true;
      return;
    }
    let outcome: ExportOutcome;
    try {
      outcome = await exportWithin(
        {
          backup: job.backup,
          ...(job.schedule ? { schedule: job.schedule } : {}),
          ...(job.scope ? { scope: job.scope } : {}),
          ...(job.includePartiallyFailed !== undefined
            ? { includePartiallyFailed: job.includePartiallyFailed }
            : {}),
        },
        runtime,
        lambda.emit,
        tools.logger,
        tools.signal,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      tools.logger.error(`export of ${job.backup} failed`, { backup: job.backup, reason: message });
      // A definite input problem (the backup is gone or not exportable) will not change: stop asking.
      if (job.requested && isKotsBackupError(error) && error.exitCode === 2) {
        await finishRequest(store, job.backup, "failed");
      }
      summary.exports.push({
        backup: job.backup,
        ...(job.schedule ? { schedule: job.schedule } : {}),
        done: false,
        error: message,
      });
      continue;
    }
    summary.exports.push({
      backup: job.backup,
      ...(job.schedule ? { schedule: job.schedule } : {}),
      done: outcome.done,
      ...("verified" in outcome ? { verified: outcome.verified } : {}),
      ...("error" in outcome ? { error: outcome.error.message } : {}),
    });
    if (!outcome.done) {
      summary.stoppedEarly = true;
      return;
    }
  }
}

function failure(step: ReconcileSummary["errors"][number]["step"], error: unknown) {
  return {
    step,
    code: isKotsBackupError(error) ? error.code : "unexpected-error",
    message: error instanceof Error ? error.message : String(error),
  };
}

export const handler = lambdaHandler<unknown, ReconcileSummary>(async (_event, tools) => {
  const { logger, metrics, signal } = tools;
  const lambda = lambdaRuntime(logger);
  const { runtime } = lambda;
  const summary: ReconcileSummary = { followed: [], exports: [], errors: [], stoppedEarly: false };
  try {
    let claims: SlotClaim[] = [];
    try {
      claims = await (await runtime.state()).listClaims();
      summary.followed = await followClaimedBackups({
        cluster: await runtime.cluster(),
        store: await runtime.destination(),
        claims,
        emit: async (event) => (await lambda.deliverPort(event)).every((o) => o.ok),
        logger,
        signal,
      });
    } catch (error) {
      summary.errors.push(failure("follow", error));
      logger.error("follow step failed; the next run tries again", { error: error as Error });
    }

    if (!signal.aborted) {
      try {
        summary.verify = (await verifyNow(lambda, logger)).report;
        // The dead man's switch (infra/alerting.ts): one Heartbeat per completed verify run.
        metrics.addMetric("Heartbeat", MetricUnit.Count, 1);
      } catch (error) {
        summary.errors.push(failure("verify", error));
        logger.error("verify step failed; no Heartbeat this run", { error: error as Error });
      }
    }

    if (!signal.aborted) {
      try {
        await runExports(lambda, claims, tools, summary);
      } catch (error) {
        summary.errors.push(failure("exports", error));
        logger.error("exports step failed; the next run tries again", { error: error as Error });
      }
    }
    if (signal.aborted) summary.stoppedEarly = true;
    logger.info("reconcile run", {
      followed: summary.followed.length,
      exports: summary.exports.length,
      errors: summary.errors.map((e) => `${e.step}: ${e.code}`),
      stoppedEarly: summary.stoppedEarly,
    });
    return summary;
  } finally {
    await runtime.close();
  }
});

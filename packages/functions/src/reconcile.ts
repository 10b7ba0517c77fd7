// `reconcile`: every 5 minutes (infra/schedules.ts). In order, each step on its own (one failing does not
// stop the next), and stopping at the graceful signal. The decisions are core's (usecases/follow.ts and
// usecases/reconcile.ts), shared with the local daemon; this handler only wires them:
//   1. follow the backups kots-backup started for its schedules (slot claims) and put their terminal
//      events (`Backup Completed` / `Backup Failed`) on the event stream, once each;
//   2. verify every schedule's freshness and record alert transitions (their `Check Down` / `Check Up`
//      go on the event stream, where notify pages), then report the `Heartbeat` the dead man's switch
//      alarm watches;
//   3. run the pending exports in the time left (export requests, then each exported schedule's newest
//      exportable backup without a manifest, whoever started it). An export that does not fit is
//      continued by the next run (verified objects are kept).
import { isKotsBackupError } from "@kots-backup/core";
import { type FollowedBackup, followBackups, followCandidates } from "@kots-backup/core/usecases/follow";
import { listBackupsWithNames } from "@kots-backup/core/usecases/list-backups";
import {
  choiceOf,
  type ExportJob,
  type ExportJobOutcome,
  pendingExports,
  runExportJobs,
} from "@kots-backup/core/usecases/reconcile";
import type { VerifyReport } from "@kots-backup/core/usecases/verify";
import { exportWithin } from "./lib/export.ts";
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

async function runExports(
  lambda: LambdaRuntime,
  tools: HandlerTools,
  summary: ReconcileSummary,
): Promise<void> {
  const { runtime } = lambda;
  const destination = await runtime.destination();
  const jobs = await pendingExports(runtime.config.schedules, runtime.config.export, {
    backups: async () =>
      listBackupsWithNames({}, { cluster: await runtime.cluster(), claims: await runtime.claims() }),
    destination,
    now: new Date(),
  });
  const run = async (job: ExportJob): Promise<ExportJobOutcome> => {
    const where = { backup: job.backup, ...(job.schedule ? { schedule: job.schedule } : {}) };
    try {
      const outcome = await exportWithin(choiceOf(job), runtime, lambda.emit, tools.logger, tools.signal);
      return {
        ...where,
        done: outcome.done,
        ...("verified" in outcome ? { verified: outcome.verified } : {}),
        ...("error" in outcome ? { error: outcome.error.message } : {}),
      };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      tools.logger.error(`export of ${job.backup} failed`, { backup: job.backup, reason });
      throw error;
    }
  };
  const { outcomes, stoppedEarly } = await runExportJobs(jobs, run, {
    destination,
    now: () => new Date(),
    signal: tools.signal,
  });
  summary.exports.push(...outcomes);
  if (stoppedEarly) summary.stoppedEarly = true;
}

function failure(step: ReconcileSummary["errors"][number]["step"], error: unknown) {
  return {
    step,
    code: isKotsBackupError(error) ? error.code : "unexpected-error",
    message: error instanceof Error ? error.message : String(error),
  };
}

export const handler = lambdaHandler<unknown, ReconcileSummary>(async (_event, tools) => {
  const { logger, signal } = tools;
  const lambda = lambdaRuntime(logger);
  const { runtime } = lambda;
  const summary: ReconcileSummary = { followed: [], exports: [], errors: [], stoppedEarly: false };
  try {
    try {
      const claims = await (await runtime.state()).listClaims();
      summary.followed = await followBackups(followCandidates(claims, new Date()), {
        cluster: await runtime.cluster(),
        store: await runtime.destination(),
        emit: async (event) => (await lambda.deliverPort(event)).every((o) => o.ok),
        now: () => new Date(),
        signal,
      });
      for (const f of summary.followed.filter((x) => x.outcome === "emitted"))
        logger.info(`followed ${f.backup}: ${f.phase}`, { ...f });
    } catch (error) {
      summary.errors.push(failure("follow", error));
      logger.error("follow step failed; the next run tries again", { error: error as Error });
    }

    if (!signal.aborted) {
      try {
        // Its EMF figures end with the Heartbeat the dead man's switch watches (infra/alerting.ts).
        summary.verify = (await verifyNow(lambda, logger)).report;
      } catch (error) {
        summary.errors.push(failure("verify", error));
        logger.error("verify step failed; no Heartbeat this run", { error: error as Error });
      }
    }

    if (!signal.aborted) {
      try {
        await runExports(lambda, tools, summary);
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

// `scheduled`: invoked by EventBridge Scheduler with `{schedule, scheduledTime, executionId}` (docs/contract.md §4).
// Claims the slot in the state store and asks kotsadm for the backup through `runBackup`: of any number
// of invocations for one (schedule, scheduledTime) — Scheduler retries, duplicates, concurrency — at most
// one starts a backup. Returns what `kots-backup backup --no-wait --json` prints; a run that started
// nothing returns its outcome (`skipped`, `claimed-elsewhere`) instead. Reconcile follows the backup.
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { InputError } from "@kots-backup/core";
import { parseScheduledEvent, type ScheduledEvent } from "@kots-backup/core/on-demand-event";
import { runBackup } from "@kots-backup/core/usecases/index";
import { scheduledRun } from "@kots-backup/core/usecases/reconcile";
import { deployment } from "./config-delivery.ts";
import { lambdaHandler } from "./lib/handler.ts";
import { lambdaRuntime, useCaseLog } from "./lib/runtime.ts";
import { validateEvent } from "./lib/validation.ts";

export const handler = lambdaHandler<ScheduledEvent, Record<string, unknown>>(
  async (event, { logger, metrics }) => {
    const { config } = deployment();
    const schedule = config.schedules.find((s) => s.name === event.schedule);
    if (!schedule) {
      throw new InputError(
        "unknown-schedule",
        `schedule: "${event.schedule}" is not a configured schedule (configured: ${config.schedules.map((s) => s.name).join(", ") || "none"})`,
        { field: "schedule", fix: "redeploy (sst deploy) so that the schedules match kots-backup.yaml" },
      );
    }
    logger.appendKeys({
      schedule: schedule.name,
      scheduledTime: event.scheduledTime,
      executionId: event.executionId,
    });
    if (schedule.paused) {
      logger.info("schedule is paused: no backup started");
      return { outcome: "paused", schedule: schedule.name, slot: event.scheduledTime, deduplicated: false };
    }
    const { runtime, emit } = lambdaRuntime(logger);
    try {
      const result = await runBackup(scheduledRun(schedule, event.scheduledTime), {
        cluster: await runtime.cluster(),
        claims: await runtime.claims(),
        emit,
        now: () => new Date(),
        log: useCaseLog(logger),
      });
      metrics.addMetric(
        result.outcome === "started" ? "BackupsStarted" : "BackupsNotStarted",
        MetricUnit.Count,
        1,
      );
      logger.info(`scheduled run: ${result.outcome}`, {
        outcome: result.outcome,
        backup: "name" in result ? result.name : result.backup,
      });
      if (result.outcome === "started" || result.outcome === "deduplicated") {
        // Exactly the CLI's `backup --no-wait --json` document.
        const { outcome: _outcome, ...shown } = result;
        return shown;
      }
      return { ...result };
    } finally {
      await runtime.close();
    }
  },
  { middlewares: validateEvent(parseScheduledEvent) },
);

// `onDemand`: the console events of docs/contract.md §4 (AWS console "Test", or `aws lambda invoke`). The event
// is validated with core's zod schema before anything runs; a bad event fails naming the field, with no
// side effect. Each action returns what the CLI prints with `--json`:
//   backup          → `backup [--wait|--no-wait]` (`wait` defaults to false here; waiting is bounded by
//                     the function's remaining time)
//   ls              → `ls [--app]`
//   export          → `export <name>|--latest`, plus `done`; `{ done: false, … }` when it continues in reconcile
//   verify          → `verify` (transitions go to the event stream; notify pages)
//   status          → `status` (read-only)
//   config-download → `config-download --app`
//   drill           → `drill` (the newest export of each kind, recorded under state/drills/ for the
//                     `drill` check; EventBridge Scheduler sends it on `drill.schedule`)
import { drillAndRecord } from "@kots-backup/adapters/drill/offline";
import { saveManualKotsConfig } from "@kots-backup/adapters/export/engine";
import type { Runtime } from "@kots-backup/adapters/runtime/index";
import { type OnDemandEvent, parseOnDemandEvent } from "@kots-backup/core/on-demand-event";
import {
  checkBackupInput,
  listBackups,
  type RunBackupInput,
  runBackup,
} from "@kots-backup/core/usecases/index";
import { exportWithin } from "./lib/export.ts";
import { type HandlerTools, lambdaHandler } from "./lib/handler.ts";
import { type LambdaRuntime, lambdaRuntime, useCaseLog } from "./lib/runtime.ts";
import { validateEvent } from "./lib/validation.ts";
import { statusNow, verifyNow } from "./lib/verify.ts";

/** Kept back from the function's time when waiting for a backup: room to answer. */
const WAIT_MARGIN_MS = 45_000;

type Result = unknown;

async function backup(
  event: Extract<OnDemandEvent, { action: "backup" }>,
  lambda: LambdaRuntime,
  tools: HandlerTools,
): Promise<Result> {
  const wait = event.wait === true;
  const input: RunBackupInput = {
    type: event.type,
    ...(event.type === "partial" ? { app: event.app } : {}),
    wait,
    ...(wait
      ? { timeoutMs: Math.max(1_000, tools.context.getRemainingTimeInMillis() - WAIT_MARGIN_MS) }
      : {}),
    trigger: "manual",
    fields: { app: "app", type: "type" },
  };
  checkBackupInput(input);
  const result = await runBackup(input, {
    cluster: await lambda.runtime.cluster(),
    emit: lambda.emit,
    now: () => new Date(),
    log: useCaseLog(tools.logger),
  });
  if (result.outcome !== "started" && result.outcome !== "deduplicated") {
    throw new Error(`unexpected outcome ${result.outcome} for a manual backup`);
  }
  const { outcome: _outcome, ...shown } = result;
  return shown;
}

async function ls(event: Extract<OnDemandEvent, { action: "ls" }>, runtime: Runtime, tools: HandlerTools) {
  return listBackups(
    { ...(event.app !== undefined ? { app: event.app } : {}), appField: "app" },
    { cluster: await runtime.cluster(), claims: await runtime.claims(), log: useCaseLog(tools.logger) },
  );
}

async function configDownload(
  event: Extract<OnDemandEvent, { action: "config-download" }>,
  runtime: Runtime,
) {
  const destination = await runtime.destination();
  const kotsadm = await (await runtime.cluster()).kotsadm();
  const saved = await saveManualKotsConfig(destination, event.app, (app) => kotsadm.download(app));
  return { ...saved, destination: destination.location };
}

/** The CLI's `drill --json` document: the destination, whether every export passed, each result. */
async function drill(runtime: Runtime, tools: HandlerTools) {
  const destination = await runtime.destination();
  const live = runtime.config.drill?.cluster;
  const { results, run, pruneError } = await drillAndRecord(destination, new Date(), {
    ...(live ? { live, warn: (message: string) => tools.logger.warn(message) } : {}),
    onBackup: (backup) => tools.logger.info("drilling", { backup }),
  });
  // The functions are granted no s3:DeleteObject: older runs then stay, which is logged.
  if (pruneError)
    tools.logger.warn("could not delete older drill runs under state/drills/", { reason: pruneError });
  if (!run.ok)
    tools.logger.warn("restore drill failed", {
      causes: run.results.filter((r) => !r.ok).map((r) => `${r.backup}: ${r.cause ?? ""}`),
    });
  return { destination: destination.location, ok: run.ok, results };
}

export const handler = lambdaHandler<OnDemandEvent, Result>(
  async (event, tools) => {
    const { logger } = tools;
    logger.appendKeys({ action: event.action });
    logger.info("on-demand action", { event });
    const lambda = lambdaRuntime(logger);
    const { runtime } = lambda;
    try {
      switch (event.action) {
        case "backup":
          return await backup(event, lambda, tools);
        case "ls":
          return await ls(event, runtime, tools);
        case "export":
          return await exportWithin(
            {
              ...(event.backup === "latest" ? { latest: true } : { backup: event.backup }),
              ...(event.schedule ? { schedule: event.schedule } : {}),
              ...(event.type ? { type: event.type } : {}),
              ...(event.app ? { app: event.app } : {}),
              ...(event.scope ? { scope: event.scope } : {}),
              ...(event.includePartiallyFailed !== undefined
                ? { includePartiallyFailed: event.includePartiallyFailed }
                : {}),
            },
            runtime,
            lambda.emit,
            logger,
            tools.signal,
          );
        case "verify":
          return (await verifyNow(lambda, logger)).report;
        case "status":
          return await statusNow(runtime, logger);
        case "config-download":
          return await configDownload(event, runtime);
        case "drill":
          return await drill(runtime, tools);
      }
    } finally {
      await runtime.close();
    }
  },
  { middlewares: validateEvent(parseOnDemandEvent) },
);

// Verify and status over the runtime, as the CLI's `verify` and `status` run them. An unreachable
// cluster is not an error: every check reports `cluster-unreachable` (down once grace has passed).
import type { Logger } from "@aws-lambda-powertools/logger";
import { publishEmf } from "@kots-backup/adapters/metrics/emf";
import type { Runtime } from "@kots-backup/adapters/runtime/index";
import { verifySources as wireVerify } from "@kots-backup/adapters/runtime/verify-wiring";
import { DRILL_RUNS_SHOWN } from "@kots-backup/core/drill";
import { DRILL_CHECK_NAME } from "@kots-backup/core/export-layout";
import { type AppRecoverability, recoverabilityByApp } from "@kots-backup/core/recoverability";
import { type DrillRto, type StatusDrillRun, statusDrills } from "@kots-backup/core/status-page";
import { readDrillRuns } from "@kots-backup/core/usecases/drill-runs";
import {
  evaluateFacts,
  gatherFacts,
  runVerify,
  type VerifyReport,
  type VerifyRun,
  type VerifySources,
} from "@kots-backup/core/usecases/verify";
import { externalCheckNames } from "@kots-backup/core/usecases/verify-external";
import { type CheckRecord, checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import type { LambdaRuntime } from "./runtime.ts";
import { useCaseLog } from "./runtime.ts";

/** Manifests parsed by earlier invocations of this container (keyed by key and etag). */
const manifestCache: NonNullable<VerifySources["manifestCache"]> = new Map();

export async function verifySources(runtime: Runtime, logger: Logger): Promise<VerifySources> {
  const { cluster } = runtime.config;
  const sources = await wireVerify({
    openCluster: () => runtime.cluster(),
    clusterName: cluster.name,
    ...(cluster.kotsadmNamespace ? { kotsadmNamespace: cluster.kotsadmNamespace } : {}),
    destination: await runtime.destination(),
    manifestCache,
    // A `command` point is refused here (InputError naming it): Lambda has no such executable.
    external: { points: runtime.config.external, allowCommand: false },
    log: useCaseLog(logger),
  });
  // The restore drill's check reads its runs from the destination (core/drill.ts).
  return runtime.config.drill ? { ...sources, drill: runtime.config.drill } : sources;
}

/** `verify`: records transitions and puts their events on the event stream (notify pages from there). */
export async function verifyNow(lambda: LambdaRuntime, logger: Logger): Promise<VerifyRun> {
  const { runtime } = lambda;
  const sources = await verifySources(runtime, logger);
  const run = await runVerify(runtime.config.schedules, {
    ...sources,
    records: checkRecordStore(sources.destination),
    deliver: lambda.deliverPort,
    channels: lambda.streamChannels,
    now: new Date(),
    logError: (message, fields) => logger.error(message, fields ?? {}),
  });
  for (const t of run.transitions) {
    for (const event of t.events)
      logger.info(`${event.detailType}: ${t.schedule}`, { reasons: event.detail.reasons });
    if (t.suppressed) logger.info(`${t.schedule} is down but silenced: nobody was paged`);
  }
  // Per-schedule figures (dimensions Cluster, Schedule) as EMF lines on stdout.
  publishEmf({
    cluster: runtime.config.cluster.name,
    checkedAt: new Date(run.report.checkedAt),
    schedules: run.figures,
  });
  return run;
}

/** `status`: the same picture, read-only (no alert state written, nobody paged). */
export async function statusNow(
  runtime: Runtime,
  logger: Logger,
): Promise<VerifyReport & { apps: AppRecoverability[]; drills?: StatusDrillRun[]; drillRto?: DrillRto }> {
  const sources = await verifySources(runtime, logger);
  const facts = await gatherFacts(sources, new Date());
  const records = checkRecordStore(sources.destination);
  const known = new Map<string, CheckRecord | undefined>();
  for (const name of [
    ...runtime.config.schedules.map((s) => s.name),
    ...externalCheckNames(runtime.config.external),
    ...(runtime.config.drill ? [DRILL_CHECK_NAME] : []),
  ])
    known.set(name, (await records.read(name))?.value);
  const { report } = evaluateFacts(facts, runtime.config.schedules, known);
  // Recoverability per app, and the last drill runs with their RTO, as the CLI's status shows them.
  return {
    ...report,
    apps: recoverabilityByApp(runtime.config.schedules, runtime.config.external, report.checks),
    ...(runtime.config.drill ? statusDrills(await readDrillRuns(sources.destination, DRILL_RUNS_SHOWN)) : {}),
  };
}

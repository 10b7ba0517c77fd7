// Exports inside a Lambda's time: the engine (@kots-backup/adapters/export) is resumable (objects already
// verified at the destination are skipped; the manifest is written last), so an export that does not fit
// is left at the graceful signal and continued by the next reconcile run, which finds it through a
// request record `state/exports/<backup>.json`. The engine takes no AbortSignal: the copy in flight is
// abandoned, not cancelled (see the report on issue #7).
import type { Logger } from "@aws-lambda-powertools/logger";
import { clusterExportDeps } from "@kots-backup/adapters/export/deps";
import {
  type ExportDeps,
  type ExportProgress,
  type ExportResult,
  type ExportScopeChoice,
  exportBackup,
  resolveBackup,
  type UnverifiedExport,
  unverifiedExport,
} from "@kots-backup/adapters/export/engine";
import type { Runtime } from "@kots-backup/adapters/runtime/index";
import { InputError, isKotsBackupError, type KotsBackupEvent } from "@kots-backup/core";
import { EVENT_KIND_FIELDS } from "@kots-backup/core/on-demand-event";
import { finishExportRequest, recordExportRequest } from "@kots-backup/core/usecases/export-requests";
import { type ExportChoice, exportRequestFor } from "@kots-backup/core/usecases/reconcile";

export type ExportInput = ExportChoice;

/** The engine's dependencies over the runtime, as the CLI's `export` builds them. */
export async function exportDeps(
  runtime: Runtime,
  scope: ExportScopeChoice,
  emit: (event: KotsBackupEvent) => Promise<void>,
  logger: Logger,
  progress?: (p: ExportProgress) => void,
): Promise<ExportDeps> {
  return clusterExportDeps({
    config: runtime.config.export,
    cluster: await runtime.cluster(),
    destination: await runtime.destination(),
    scope,
    emit,
    log: (level, message, fields) => logger[level](message, fields ?? {}),
    ...(progress ? { progress } : {}),
  });
}

export type ExportOutcome =
  | ({ done: true } & ExportResult)
  | {
      done: false;
      backup: string;
      destination: string;
      progress?: ExportProgress;
      message: string;
    }
  | ({ done: true } & UnverifiedExport);

/** Event field names instead of the CLI's flags in the engine's input errors. */
function eventFields(error: unknown): unknown {
  if (error instanceof InputError && (error.field === "<backup>" || error.field === "--latest")) {
    return new InputError(error.code, error.message.replace(/^--latest: /, "backup: "), {
      field: "backup",
      ...(error.fix
        ? { fix: error.fix.replaceAll("--include-partially-failed", '"includePartiallyFailed": true') }
        : {}),
      cause: error,
    });
  }
  return error;
}

/**
 * Runs one export until it ends or `signal` aborts. On the signal it records the request for reconcile
 * and returns `{ done: false, … }` with the progress so far. An export that did not verify (exit 1 in the
 * CLI) returns the CLI's failure document; input and environment errors are thrown.
 */
export async function exportWithin(
  input: ExportInput,
  runtime: Runtime,
  emit: (event: KotsBackupEvent) => Promise<void>,
  logger: Logger,
  signal: AbortSignal,
): Promise<ExportOutcome> {
  // The kind `latest` takes is resolved here, before anything is read (event fields in its errors).
  const {
    backup: _backup,
    latest: _latest,
    ...request
  } = exportRequestFor(runtime.config, input, EVENT_KIND_FIELDS);
  let last: ExportProgress | undefined;
  const deps = await exportDeps(runtime, request.scope, emit, logger, (p) => {
    last = p;
  });
  // Resolve `latest` first so that a continued export names its backup.
  let name = input.backup;
  if (input.latest) {
    try {
      name = (await resolveBackup({ ...request, latest: true }, deps)).metadata.name;
    } catch (error) {
      throw eventFields(error);
    }
  }
  const running = exportBackup({ ...request, ...(name !== undefined ? { backup: name } : {}) }, deps);
  running.catch(() => {});
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const first = await Promise.race([running, aborted]);
    if (first !== "aborted") {
      await finishExportRequest(deps.destination, first.backup, "exported", new Date());
      return { done: true, ...first };
    }
  } catch (error) {
    if (isKotsBackupError(error) && error.exitCode === 1) {
      await finishExportRequest(deps.destination, name ?? "", "failed", new Date());
      return { done: true, ...unverifiedExport(name, deps.destination, error) };
    }
    throw eventFields(error);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
  const backup = name ?? "";
  await recordExportRequest(deps.destination, {
    backup,
    ...(input.scope ? { scope: input.scope } : {}),
    ...(input.includePartiallyFailed !== undefined
      ? { includePartiallyFailed: input.includePartiallyFailed }
      : {}),
    ...(input.schedule ? { schedule: input.schedule } : {}),
    requestedAt: new Date().toISOString(),
  });
  logger.info("export continues in the next reconcile runs", { backup, progress: last });
  return {
    done: false,
    backup,
    destination: deps.destination.location,
    ...(last ? { progress: last } : {}),
    message: `export of ${backup} did not fit in this invocation; reconcile continues it (objects already verified are kept)`,
  };
}

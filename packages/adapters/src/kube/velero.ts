// Velero Backups read straight from the API, as `kubectl kots` does: paginated lists, gets, and
// following one backup until its phase is terminal (watch on metadata.name, falling back to polling
// with backoff), bounded by a timeout.
import { EnvironmentError } from "@kots-backup/core";
import { isTerminalPhase, phaseOf, type VeleroBackup } from "@kots-backup/core/velero";
import { backoffDelay, sleep as defaultSleep } from "../retry.ts";
import { type KubeApi, VELERO_BACKUPS } from "./api.ts";
import type { KubeApiError } from "./errors.ts";

type BackupObject = VeleroBackup & { apiVersion?: string; kind?: string };

export function listVeleroBackups(
  api: KubeApi,
  namespace: string,
  pageSize?: number,
): Promise<VeleroBackup[]> {
  return api.listCustomAll<BackupObject>(
    VELERO_BACKUPS,
    namespace,
    pageSize === undefined ? {} : { pageSize },
  );
}

export function getVeleroBackup(
  api: KubeApi,
  namespace: string,
  name: string,
): Promise<VeleroBackup | undefined> {
  return api.getCustom<BackupObject>(VELERO_BACKUPS, namespace, name);
}

export interface FollowOptions {
  /** Give up after this long (EnvironmentError `timeout`, exit 3). */
  timeoutMs: number;
  /** Called with every new version of the Backup (phase changes included). */
  onUpdate?: (backup: VeleroBackup) => void;
  signal?: AbortSignal;
  /** Poll delays when watching is not possible: full jitter between 1 s and 15 s by default. */
  poll?: { baseDelayMs: number; maxDelayMs: number };
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** After this many watch failures in a row, poll instead (default 3). */
  maxWatchFailures?: number;
}

/** Follows `name` until its phase is terminal; resolves to the terminal Backup. */
export async function followVeleroBackup(
  api: KubeApi,
  namespace: string,
  name: string,
  options: FollowOptions,
): Promise<VeleroBackup> {
  const wait = options.sleep ?? defaultSleep;
  const poll = options.poll ?? { baseDelayMs: 1_000, maxDelayMs: 15_000 };
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error("timeout")), options.timeoutMs);
  timer.unref?.();
  const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
  let last: VeleroBackup | undefined;
  let lastVersion: string | undefined;
  const seen = (backup: VeleroBackup) => {
    const version = (backup.metadata as { resourceVersion?: string }).resourceVersion;
    if (version !== undefined && version === lastVersion) return;
    lastVersion = version;
    last = backup;
    options.onUpdate?.(backup);
  };
  const timeoutError = () =>
    new EnvironmentError(
      "timeout",
      `backup ${name} did not finish within ${Math.round(options.timeoutMs / 1000)}s (last phase ${last ? phaseOf(last) : "unknown"})`,
      { fix: "raise --timeout, or check on it later with `kots-backup ls`; the backup itself keeps running" },
    );
  try {
    let watchFailures = 0;
    const maxWatchFailures = options.maxWatchFailures ?? 3;
    for (let round = 1; ; round++) {
      if (signal.aborted) throw deadline.signal.aborted ? timeoutError() : signal.reason;
      const current = await getVeleroBackup(api, namespace, name);
      if (!current) {
        throw new EnvironmentError(
          "backup-not-found",
          `Backup ${name} no longer exists in namespace ${namespace}`,
          {
            fix: "it was deleted while being followed (retention or a person); list backups with `kots-backup ls`",
          },
        );
      }
      seen(current);
      if (isTerminalPhase(phaseOf(current))) return current;
      if (watchFailures < maxWatchFailures) {
        const outcome = await watchUntilTerminal(api, namespace, name, current, seen, signal);
        if (outcome.kind === "terminal") return outcome.backup;
        if (outcome.kind === "failed") watchFailures += 1;
        else watchFailures = 0;
        if (outcome.kind === "failed" && outcome.error?.status === 403) watchFailures = maxWatchFailures;
        if (outcome.kind === "failed") {
          await wait(
            backoffDelay(watchFailures, { ...poll, maxAttempts: 0, maxRetryAfterMs: 0 }),
            signal,
          ).catch(() => {});
        }
        continue;
      }
      // Polling with capped exponential backoff (full jitter), never slower than maxDelayMs.
      await wait(
        Math.max(poll.baseDelayMs / 2, backoffDelay(round, { ...poll, maxAttempts: 0, maxRetryAfterMs: 0 })),
        signal,
      ).catch(() => {});
    }
  } finally {
    clearTimeout(timer);
  }
}

type WatchOutcome =
  | { kind: "terminal"; backup: VeleroBackup }
  | { kind: "closed" }
  | { kind: "failed"; error: KubeApiError | undefined };

function watchUntilTerminal(
  api: KubeApi,
  namespace: string,
  name: string,
  current: VeleroBackup,
  seen: (backup: VeleroBackup) => void,
  signal: AbortSignal,
): Promise<WatchOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let stop: () => void = () => {};
    let events = 0;
    const finish = (outcome: WatchOutcome) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      stop();
      resolve(outcome);
    };
    const onAbort = () => finish({ kind: "closed" });
    signal.addEventListener("abort", onAbort, { once: true });
    const resourceVersion = (current.metadata as { resourceVersion?: string }).resourceVersion;
    void api
      .watchCustomNamed<VeleroBackup & { apiVersion?: string; kind?: string }>(
        VELERO_BACKUPS,
        namespace,
        name,
        (type, object) => {
          events += 1;
          if (type === "BOOKMARK" || type === "ERROR" || object?.metadata?.name !== name) {
            if (type === "ERROR") finish({ kind: "failed", error: undefined });
            return;
          }
          if (type === "DELETED") {
            finish({ kind: "closed" });
            return;
          }
          seen(object);
          if (isTerminalPhase(phaseOf(object))) finish({ kind: "terminal", backup: object });
        },
        (error) => {
          // client-node ends a watch after 30 s without data: a normal end, watched again.
          if (error?.code === "watch-idle") finish({ kind: "closed" });
          else if (error) finish({ kind: "failed", error });
          // A stream the server closes at once, without a single event, is a watch that does not work.
          else finish(events > 0 ? { kind: "closed" } : { kind: "failed", error: undefined });
        },
        resourceVersion,
      )
      .then((abort) => {
        stop = abort;
        if (settled) abort();
      });
  });
}

// `kots-backup backup [--type full|partial] [--app <slug>] [--wait|--no-wait] [--timeout <duration>]`
// Does what `kubectl kots backup` does (docs/contract.md §2): asks kotsadm through a port-forward, then by
// default follows the Velero Backup until its phase is terminal. Exit 1 when it ended badly.
import { ExitCode, type KotsBackupEvent } from "@kots-backup/core";
import { parseDuration } from "@kots-backup/core/duration";
import {
  type BackupRunResult,
  checkBackupInput,
  DEFAULT_BACKUP_TIMEOUT_MS,
  type RunBackupInput,
  runBackup,
} from "@kots-backup/core/usecases/index";
import { FAILED_PHASES, phaseOf } from "@kots-backup/core/velero";
import { openCluster } from "../context.ts";
import { escapeControl, type Output } from "../output.ts";
import type { CommandAction } from "../program.ts";

export interface BackupFlags {
  type: "full" | "partial";
  app?: string;
  wait: boolean;
  timeout?: string;
}

export function renderBackup(result: BackupRunResult): string {
  const rows: [string, string | undefined][] = [
    ["name", result.name],
    ["type", result.app ? `${result.type} (${result.app})` : result.type],
    ["status", `${result.status} (phase ${result.phase})`],
    ["trigger", result.trigger],
    ["requested", result.requestedAt || undefined],
    ["started", result.startedAt],
    ["completed", result.completedAt],
    ["errors", String(result.errors)],
    ["warnings", String(result.warnings)],
  ];
  if (result.deduplicated) rows.push(["note", "an existing backup was reused; none was started"]);
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([k, v]) => `${k.padEnd(10)} ${escapeControl(v)}`)
    .join("\n");
}

function logEvent(out: Output): (event: KotsBackupEvent) => void {
  return (event) =>
    out.log("info", event.detailType, {
      backup: event.detail.backup,
      ...(event.detail.schedule ? { schedule: event.detail.schedule } : {}),
    });
}

export const backupCommand: CommandAction<[BackupFlags]> = async ({ globals, out }, flags) => {
  const input: RunBackupInput = {
    type: flags.type,
    ...(flags.app !== undefined ? { app: flags.app } : {}),
    wait: flags.wait !== false,
    timeoutMs:
      flags.timeout === undefined ? DEFAULT_BACKUP_TIMEOUT_MS : parseDuration(flags.timeout, "--timeout"),
    trigger: "manual",
    fields: { app: "--app", type: "--type" },
  };
  // Bad flags fail here, before anything is read from the cluster.
  checkBackupInput(input);
  const { cluster } = await openCluster(globals, {
    warn: (message) => out.log("warn", message),
    log: (message, fields) => out.log("info", message, fields),
  });
  try {
    let lastPhase: string | undefined;
    const result = await runBackup(input, {
      cluster,
      emit: logEvent(out),
      now: () => new Date(),
      log: (level, message, fields) => out.log(level, message, fields),
      onPhase: (backup) => {
        const phase = phaseOf(backup);
        if (phase !== lastPhase) {
          lastPhase = phase;
          out.log("info", `backup ${backup.metadata.name}: ${phase}`);
        }
      },
    });
    // Manual runs always start or reuse a backup; the other outcomes belong to scheduled runs.
    if (result.outcome !== "started" && result.outcome !== "deduplicated") {
      throw new Error(`unexpected outcome ${result.outcome} for a manual backup`);
    }
    const { outcome: _outcome, ...shown } = result;
    out.result(shown, () => renderBackup(result));
    return input.wait && FAILED_PHASES.has(result.phase) ? ExitCode.problem : ExitCode.ok;
  } finally {
    await cluster.close();
  }
};

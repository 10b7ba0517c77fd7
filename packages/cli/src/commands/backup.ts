// `kots-backup backup [--type full|partial] [--app <slug>] [--wait|--no-wait] [--timeout <duration>]`
// Does what `kubectl kots backup` does (contract §2): asks kotsadm through a port-forward, then by
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
import { Option } from "commander";
import { openCluster } from "../context.ts";
import type { Output } from "../output.ts";
import { registerCommand } from "../program.ts";

interface BackupFlags {
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
    .map(([k, v]) => `${k.padEnd(10)} ${v}`)
    .join("\n");
}

function logEvent(out: Output): (event: KotsBackupEvent) => void {
  return (event) =>
    out.log("info", event.detailType, {
      backup: event.detail.backup,
      ...(event.detail.schedule ? { schedule: event.detail.schedule } : {}),
    });
}

registerCommand((program, run) => {
  program
    .command("backup")
    .description(
      "Take a KOTS backup through kotsadm, as `kubectl kots backup` does, and by default wait until it ends.\n" +
        "Exit 1 when it ended Failed, PartiallyFailed or FailedValidation.",
    )
    .addOption(
      new Option("--type <type>", "full (instance: kotsadm and every app) or partial (one app)")
        .choices(["full", "partial"])
        .default("full"),
    )
    .option("--app <slug>", "the app to back up (with --type partial)")
    .option("--wait", "wait until the backup's Velero phase is terminal (default)")
    .option("--no-wait", "return once kotsadm has accepted and the Backup is found")
    .option("--timeout <duration>", "give up waiting after this long (exit 3), e.g. 30m, 4h", "4h")
    .action(
      run(async ({ globals, out }, flags: BackupFlags) => {
        const input: RunBackupInput = {
          type: flags.type,
          ...(flags.app !== undefined ? { app: flags.app } : {}),
          wait: flags.wait !== false,
          timeoutMs:
            flags.timeout === undefined
              ? DEFAULT_BACKUP_TIMEOUT_MS
              : parseDuration(flags.timeout, "--timeout"),
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
      }),
    );
});

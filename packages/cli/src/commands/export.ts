// `kots-backup export <backup>|--latest [--schedule <name> | --type full|partial [--app <slug>]]
//   [--scope auto|full|manifests] [--include-partially-failed]`
// (docs/contract.md §2, §6): copy a finished backup to the export destination, verify it, write its manifest.
// Exit 0 verified (or already exported), 1 it did not verify, 2 bad input, 3 something unreachable.
import { clusterExportDeps } from "@kots-backup/adapters/export/deps";
import {
  type ExportProgress,
  type ExportResult,
  type ExportScopeChoice,
  exportBackup,
  unverifiedExport,
} from "@kots-backup/adapters/export/engine";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { ExitCode, InputError, isKotsBackupError, type KotsBackupEvent } from "@kots-backup/core";
import type { BackupType } from "@kots-backup/core/backups";
import type { Config } from "@kots-backup/core/config";
import { parseConfig } from "@kots-backup/core/config";
import { checkLatestChoice, exportRequestFor } from "@kots-backup/core/usecases/reconcile";
import cliProgress from "cli-progress";
import { openCluster } from "../context.ts";
import { escapeControl, type Output } from "../output.ts";
import type { CommandAction } from "../program.ts";

export function renderExport(result: ExportResult): string {
  const backup = escapeControl(result.backup);
  const lines = [
    result.alreadyExported
      ? `Backup ${backup} was already exported and verified: nothing to do.`
      : `Exported backup ${backup} (${result.scope} scope) and verified every object.`,
    `  destination  ${escapeControl(result.destination)}`,
    `  manifest     ${escapeControl(result.manifestKey)}`,
    `  objects      ${result.objects} (${formatBytes(result.bytes)})`,
  ];
  if (!result.alreadyExported) {
    lines.push(
      `  this run     copied ${result.copiedObjects} (${formatBytes(result.copiedBytes)}), already there ${result.skippedObjects}`,
    );
  }
  if (result.scope === "manifests") {
    lines.push(
      "  NOTE: manifests scope: volume data (file-system backups, the kotsadm database dump) is NOT included.",
    );
    lines.push(
      "        This copy restores Kubernetes resources only. Configure export.bsl for a full export.",
    );
  }
  if (result.phase === "PartiallyFailed")
    lines.push("  NOTE: the backup is PartiallyFailed; KOTS restores only Completed backups.");
  for (const config of result.config ?? []) {
    const app = escapeControl(config.app);
    lines.push(
      "error" in config
        ? `  KOTS config of ${app}: NOT saved (${escapeControl(config.error)})`
        : `  KOTS config of ${app}: ${escapeControl(config.key)}`,
    );
  }
  return lines.join("\n");
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A progress bar on stderr (bytes, rate, ETA) when stderr is a terminal and output is not JSON. */
export function progressBar(
  out: Output,
  stderr: NodeJS.WriteStream = process.stderr,
): { update: (p: ExportProgress) => void; stop: () => void } {
  if (out.json || !stderr.isTTY) return { update: () => {}, stop: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  const started = Date.now();
  return {
    update(p) {
      const total = p.totalBytes ?? Math.max(p.doneBytes, 1);
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: stderr,
            format:
              "exporting [{bar}] {percentage}% | {done} of {size} | {rate}/s | ETA {eta_formatted} | {objects} objects",
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { done: "0 B", size: formatBytes(total), rate: "0 B", objects: "0" });
      }
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      bar.setTotal(total);
      bar.update(Math.max(0, p.doneBytes), {
        done: formatBytes(Math.max(0, p.doneBytes)),
        size: formatBytes(total),
        rate: formatBytes(Math.round(p.doneBytes / seconds)),
        objects: `${p.doneObjects}/${p.totalObjects}`,
      });
    },
    stop() {
      bar?.stop();
    },
  };
}

export function logEvent(out: Output): (event: KotsBackupEvent) => void {
  return (event) =>
    out.log(
      event.detailType === "Export Failed" ? "error" : "info",
      event.detail.message ? `${event.detailType}: ${event.detail.message}` : event.detailType,
      { backup: event.detail.backup },
    );
}

export interface ExportFlags {
  latest?: boolean;
  /** With --latest: the newest backup of this schedule's kind (type and app). */
  schedule?: string;
  /** With --latest: full (default) or partial (with --app). */
  type?: BackupType;
  app?: string;
  scope?: ExportScopeChoice;
  includePartiallyFailed?: boolean;
}

export const exportCommand: CommandAction<[string | undefined, ExportFlags]> = async (
  { globals, out },
  backupName,
  flags,
) => {
  if (backupName === undefined && !flags.latest) {
    throw new InputError("usage", "name the backup to export, or pass --latest", {
      field: "<backup>",
      fix: "see `kots-backup ls`",
    });
  }
  const { config: loaded, cluster } = await openCluster(globals, {
    warn: (message) => out.log("warn", message),
    log: (message, fields) => out.log("info", message, fields),
  });
  const config: Config = loaded ?? parseConfig({});
  const bar = progressBar(out);
  try {
    // Before anything is read: which kind --latest takes (full by default; --schedule's, or --type/--app).
    checkLatestChoice(flags); // --schedule, --type and --app only go with --latest
    const request = exportRequestFor(config, {
      ...(backupName !== undefined ? { backup: backupName } : {}),
      ...flags,
    });
    const destination = await destinationStore(config.export);
    const deps = await clusterExportDeps({
      config: config.export,
      cluster,
      destination,
      scope: request.scope,
      emit: logEvent(out),
      log: (level, message, fields) => out.log(level, message, fields),
      progress: bar.update,
    });
    const result = await exportBackup(request, deps).catch((error: unknown) => {
      if (!isKotsBackupError(error) || error.exitCode !== ExitCode.problem) throw error;
      bar.stop();
      // Exit 1 still prints a result: the export ran and did not verify; no manifest was written.
      const failed = unverifiedExport(backupName, destination, error);
      out.result(
        failed,
        (f) =>
          `Export of ${escapeControl(f.backup)} did NOT verify: ${escapeControl(f.error.message)}\n  no manifest was written; re-run the export.`,
      );
      return undefined;
    });
    bar.stop();
    if (!result) return ExitCode.problem;
    out.result(result, renderExport);
    return ExitCode.ok;
  } finally {
    bar.stop();
    await cluster.close();
  }
};

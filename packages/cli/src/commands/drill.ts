// `kots-backup drill [--backup <name>] [--offline]`: the restore drill. Reads the newest verified export of
// each kind (or the one named) at export.destination as Velero's restore would, without a cluster; then,
// with drill.cluster set (and no --offline), restores each export that passed in the DR cluster, into
// scratch namespaces it deletes afterwards, and times the restore (RTO; adapters/src/drill/live.ts).
// Prints one line per backup with the time it took. Exit 0 when every drilled export could be restored
// from, 1 when one could not (or there is nothing to drill), 2 bad input, 3 the destination is unreachable.
// Each run is recorded under the destination's state/drills/ (the `drill` check and `status` read it).
import { type DrillResult, drillAndRecord } from "@kots-backup/adapters/drill/offline";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { ExitCode, InputError } from "@kots-backup/core";
import { drillSeconds } from "@kots-backup/core/drill";
import { manifestKey } from "@kots-backup/core/export-layout";
import { type LoadedConfig, loadConfig } from "../context.ts";
import { escapeControl } from "../output.ts";
import type { CommandAction } from "../program.ts";
import { formatBytes } from "./export.ts";

export interface DrillFlags {
  backup?: string;
  /** Skip the live drill even when drill.cluster is set. */
  offline?: boolean;
}

export interface DrillReport {
  destination: string;
  ok: boolean;
  results: DrillResult[];
}

function renderDrill(report: DrillReport): string {
  if (report.results.length === 0) return `No verified export at ${report.destination}: nothing to drill.`;
  const lines = report.results.map((r) => {
    const what = [r.type === "partial" ? `partial ${r.app ?? ""}` : r.type, r.scope ? `${r.scope} scope` : ""]
      .filter(Boolean)
      .join(", ");
    const seconds = drillSeconds(r.durationMs);
    const restored =
      r.live?.ok && r.restoreMs !== undefined
        ? `, restored in the DR cluster: RTO ${drillSeconds(r.restoreMs)} (${r.live.itemsCompared} items, Restore ${r.live.restore})`
        : "";
    const step = r.live && !r.live.ok ? "live" : r.checks.find((c) => !c.ok)?.name;
    return r.ok
      ? `ok      ${r.backup}  ${what}, ${r.objects} objects (${formatBytes(r.bytes)}), restorable${restored}  ${seconds}`
      : `FAILED  ${r.backup}  ${step}: ${escapeControl(r.cause ?? "")}  ${seconds}`;
  });
  return [...lines, `drilled ${report.results.length} export(s) at ${report.destination}`].join("\n");
}

export const drillCommand: CommandAction<[DrillFlags]> = async ({ globals, out }, flags) => {
  const { config } = loadConfig(globals, { required: true }) as LoadedConfig;
  if (flags.backup !== undefined) {
    try {
      manifestKey(flags.backup);
    } catch (error) {
      throw new InputError("invalid-name", `--backup: ${(error as Error).message}`, {
        field: "--backup",
        fix: "name a backup as `kots-backup status` or `kots-backup ls` shows it",
        cause: error,
      });
    }
  }
  const destination = await destinationStore(config.export);
  const live = flags.offline ? undefined : config.drill?.cluster;
  const { results, pruneError } = await drillAndRecord(destination, new Date(), {
    ...(flags.backup !== undefined ? { backups: [flags.backup] } : {}),
    ...(live ? { live, warn: (message: string) => out.log("warn", message) } : {}),
    onBackup: (backup) => out.log("info", `drilling ${backup}${live ? " (offline, then live)" : ""}`),
  });
  if (pruneError)
    out.log("warn", "could not delete older drill runs under state/drills/", { reason: pruneError });
  const report: DrillReport = {
    destination: destination.location,
    ok: results.length > 0 && results.every((r) => r.ok),
    results,
  };
  out.result(report, renderDrill);
  return report.ok ? ExitCode.ok : ExitCode.problem;
};

// `kots-backup drill [--backup <name>]`: the offline restore drill. Reads the newest verified export of
// each kind (or the one named) at export.destination as Velero's restore would, without a cluster, and
// prints one line per backup with the time it took. Exit 0 when every drilled export could be restored
// from, 1 when one could not (or there is nothing to drill), 2 bad input, 3 the destination is unreachable.
// Each run is recorded under the destination's state/drills/ (the `drill` check and `status` read it).
import { type DrillResult, drillAndRecord } from "@kots-backup/adapters/drill/offline";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { ExitCode, InputError } from "@kots-backup/core";
import { manifestKey } from "@kots-backup/core/export-layout";
import { type LoadedConfig, loadConfig } from "../context.ts";
import { escapeControl } from "../output.ts";
import type { CommandAction } from "../program.ts";
import { formatBytes } from "./export.ts";

export interface DrillFlags {
  backup?: string;
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
    const seconds = `${(r.durationMs / 1000).toFixed(1)} s`;
    return r.ok
      ? `ok      ${r.backup}  ${what}, ${r.objects} objects (${formatBytes(r.bytes)}), restorable  ${seconds}`
      : `FAILED  ${r.backup}  ${r.checks.find((c) => !c.ok)?.name}: ${escapeControl(r.cause ?? "")}  ${seconds}`;
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
  const { results, pruneError } = await drillAndRecord(destination, new Date(), {
    ...(flags.backup !== undefined ? { backups: [flags.backup] } : {}),
    onBackup: (backup) => out.log("info", `drilling ${backup}`),
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

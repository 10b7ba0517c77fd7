// `kots-backup ls [--app <slug>]`: what `kubectl kots get backups` lists, plus app backups of this
// kotsadm's apps, newest first (docs/contract.md §2). Reads the Kubernetes API; kotsadm only for the app list.
import { ExitCode } from "@kots-backup/core";
import type { BackupSummary } from "@kots-backup/core/backups";
import { listBackups } from "@kots-backup/core/usecases/index";
import { openClaims, openCluster } from "../context.ts";
import { escapeControl } from "../output.ts";
import type { CommandAction } from "../program.ts";

export interface LsFlags {
  app?: string;
}

const daysUntil = (iso: string | undefined, now: number) => {
  if (!iso) return "";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${Math.max(0, Math.floor((ms - now) / 86_400_000))}d`;
};

export function renderBackupTable(rows: readonly BackupSummary[], now: number = Date.now()): string {
  if (rows.length === 0) return "No backups found.";
  const header = [
    "NAME",
    "TYPE",
    "APP",
    "STATUS",
    "PHASE",
    "TRIGGER",
    "SCHEDULE",
    "REQUESTED",
    "COMPLETED",
    "EXPIRES",
    "ERRORS",
    "WARNINGS",
  ];
  // Cells come from the cluster (names, annotations, app slugs): one escaped line each.
  const lines = rows.map((r) =>
    [
      r.name,
      r.type,
      r.app ?? "",
      r.status,
      r.phase,
      r.trigger,
      r.schedule ?? "",
      r.requestedAt ?? "",
      r.completedAt ?? "",
      daysUntil(r.expiresAt, now),
      String(r.errors),
      String(r.warnings),
    ].map(escapeControl),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [format(header), ...lines.map(format)].join("\n");
}

export const lsCommand: CommandAction<[LsFlags]> = async ({ globals, out }, flags) => {
  const { cluster, config } = await openCluster(globals, {
    warn: (message) => out.log("warn", message),
    log: (message, fields) => out.log("info", message, fields),
  });
  try {
    const claims = await openClaims(config);
    const rows = await listBackups(
      { ...(flags.app !== undefined ? { app: flags.app } : {}), appField: "--app" },
      {
        cluster,
        ...(claims ? { claims } : {}),
        log: (level, message, fields) => out.log(level, message, fields),
      },
    );
    out.result(rows, (value) => renderBackupTable(value));
    return ExitCode.ok;
  } finally {
    await cluster.close();
  }
};

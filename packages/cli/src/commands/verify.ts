import { type Channel, channelsFromConfig } from "@kots-backup/adapters/alerts/index";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { deliveryPort, verifySources } from "@kots-backup/adapters/runtime/verify-wiring";
import { StateStore } from "@kots-backup/adapters/state/state-store";
import { ExitCode, type ObjectStore } from "@kots-backup/core";
import {
  type DeliverPort,
  runVerify,
  type VerifyCheck,
  type VerifyReport,
  type VerifySources,
  verifyExitCode,
} from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { type LoadedConfig, loadConfig, openCluster } from "../context.ts";
import { escapeControl, type Output } from "../output.ts";
import type { CommandAction, GlobalOptions } from "../program.ts";

export interface VerifyEnvironment {
  loaded: LoadedConfig;
  destination: ObjectStore;
  state: StateStore;
  sources: VerifySources;
  close(): Promise<void>;
}

/** Config (required), destination, state and the cluster as verify and status read them. */
export async function openVerifyEnvironment(globals: GlobalOptions, out: Output): Promise<VerifyEnvironment> {
  const loaded = loadConfig(globals, { required: true }) as LoadedConfig;
  const { config } = loaded;
  const destination = await destinationStore(config.export);
  let close = async () => {};
  const sources = await verifySources({
    openCluster: async () => {
      const opened = await openCluster(globals, {
        warn: (message) => out.log("warn", message),
        log: (message, fields) => out.log("info", message, fields),
      });
      close = () => opened.cluster.close();
      return opened.cluster;
    },
    clusterName: config.cluster.name,
    ...(config.cluster.kotsadmNamespace ? { kotsadmNamespace: config.cluster.kotsadmNamespace } : {}),
    destination,
    external: { points: config.external, allowCommand: true },
    log: (level, message, fields) => out.log(level, message, fields),
  });
  // The restore drill's check reads its runs from the destination (core/drill.ts).
  if (config.drill) sources.drill = config.drill;
  return { loaded, destination, state: new StateStore(destination), sources, close: () => close() };
}

/** The delivery port over the configured channels. */
export function deliverPort(channels: readonly Channel[], out: Output): DeliverPort {
  return deliveryPort(channels, (level, message) => out.log(level, `alert ${message}`));
}

const dash = (value: string | undefined) => value ?? "-";

export function renderChecks(checks: readonly VerifyCheck[]): string {
  if (checks.length === 0) return "No schedules configured (add schedules to the config file).";
  const header = ["SCHEDULE", "STATE", "REASONS", "SINCE", "LAST SUCCESS", "LAST EXPORT", "EXPECTED BY"];
  // Times come from the cluster and the destination's state: one escaped line each.
  const rows = checks.map((c) =>
    [
      c.name,
      c.silencedUntil ? `${c.state} (silenced until ${c.silencedUntil})` : c.state,
      c.reasons.join(",") || "-",
      dash(c.since),
      dash(c.lastSuccessAt),
      dash(c.lastExportAt),
      dash(c.expectedBy),
    ].map(escapeControl),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Below the table, per check: the restore point and its command, and why it is silenced. */
export function renderNotes(checks: readonly VerifyCheck[]): string[] {
  const lines: string[] = [];
  for (const c of checks) {
    const rp = c.restorePoint;
    if (rp) {
      const when = [
        rp.completedAt ? `completed ${rp.completedAt}` : "",
        rp.exportedAt ? `exported ${rp.exportedAt}` : "not exported (on the cluster's BSL only)",
      ].filter(Boolean);
      lines.push(
        escapeControl(`${c.name}: restore point ${rp.backup} (${when.join(", ")})`) +
          (rp.restoreCommand ? `: ${escapeControl(rp.restoreCommand)}` : ""),
      );
    }
    if (c.silencedUntil)
      lines.push(
        escapeControl(
          `${c.name}: silenced until ${c.silencedUntil}${c.silenceReason ? `: ${c.silenceReason}` : ""}`,
        ),
      );
  }
  return lines;
}

export function renderReport(report: VerifyReport): string {
  const notes = renderNotes(report.checks);
  return [
    renderChecks(report.checks),
    ...(notes.length > 0 ? ["", ...notes] : []),
    `checked at ${report.checkedAt}`,
  ].join("\n");
}

export const verifyCommand: CommandAction<[]> = async ({ globals, out }) => {
  const env = await openVerifyEnvironment(globals, out);
  try {
    const { config } = env.loaded;
    const channels = await channelsFromConfig(config.alerts);
    const result = await runVerify(config.schedules, {
      ...env.sources,
      records: checkRecordStore(env.destination),
      deliver: deliverPort(channels, out),
      channels: channels.map((c) => c.name),
      now: new Date(),
      logError: (message, fields) => out.log("error", message, fields),
    });
    for (const t of result.transitions) {
      for (const event of t.events)
        out.log("info", `${event.detailType}: ${t.schedule}`, { reasons: event.detail.reasons });
      if (t.suppressed) out.log("info", `${t.schedule} is down but silenced: nobody was paged`);
    }
    out.result(result.report, renderReport);
    return verifyExitCode(result.report) === 1 ? ExitCode.problem : ExitCode.ok;
  } finally {
    await env.close();
  }
};

// `kots-backup daemon` (docs/contract.md §2): runs the configured schedules, exports, verification and alerts
// locally until stopped (SIGTERM or SIGINT: graceful, no half-written state). See daemon/daemon.ts.
// With --json, logs are JSON lines on stderr and stdout holds one summary document at exit.
import { channelsFromConfig } from "@kots-backup/adapters/alerts/index";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { resolveSecret } from "@kots-backup/adapters/secrets/resolve";
import { ExitCode, InputError } from "@kots-backup/core";
import { isListenHost } from "@kots-backup/core/config";
import { secondsCronSlots } from "@kots-backup/core/daemon-plan";
import { parseDuration } from "@kots-backup/core/duration";
import { quoteInput } from "@kots-backup/core/text";
import { type LoadedConfig, loadConfig, openCluster } from "../context.ts";
import { Daemon, type DaemonSummary } from "../daemon/daemon.ts";
import type { CommandAction } from "../program.ts";

export interface DaemonFlags {
  metricsPort?: string;
  metricsHost?: string;
  shutdownTimeout: string;
  internalSecondsCron?: string;
  internalTick?: string;
}

function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new InputError("invalid-port", `--metrics-port: "${text}" is not a port`, {
      field: "--metrics-port",
      fix: "give a number from 1 to 65535 (0: any free port)",
    });
  }
  return value;
}

function host(text: string): string {
  if (!isListenHost(text)) {
    throw new InputError("invalid-host", `--metrics-host: ${quoteInput(text)} is not an address`, {
      field: "--metrics-host",
      fix: "give an IP address or a host name: 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)",
    });
  }
  return text;
}

export function renderSummary(summary: DaemonSummary & { stoppedBy: string }): string {
  return (
    `daemon stopped (${summary.stoppedBy}): ${summary.slotsFired} slot(s) fired, ${summary.backupsStarted} backup(s) started, ` +
    `${summary.exportsCompleted} export(s) completed, ${summary.exportsFailed} failed, ${summary.verifyRuns} verify run(s)` +
    (summary.abandoned > 0
      ? `; ${summary.abandoned} task(s) left unfinished (they resume at the next start)`
      : "")
  );
}

export const daemonCommand: CommandAction<[DaemonFlags]> = async ({ globals, out }, flags) => {
  const loaded = loadConfig(globals, { required: true }) as LoadedConfig;
  const { config } = loaded;
  const shutdownTimeoutMs = parseDuration(flags.shutdownTimeout, "--shutdown-timeout");
  const slotSource = flags.internalSecondsCron
    ? (() => {
        const slots = secondsCronSlots(flags.internalSecondsCron);
        return () => slots;
      })()
    : undefined;
  const metricsPort = flags.metricsPort !== undefined ? port(flags.metricsPort) : config.daemon.metricsPort;
  const metricsHost = flags.metricsHost !== undefined ? host(flags.metricsHost) : config.daemon.metricsHost;
  const destination = await destinationStore(config.export);
  const channels = await channelsFromConfig(config.alerts);
  const heartbeatUrl = config.daemon.heartbeatUrl
    ? await resolveSecret(config.daemon.heartbeatUrl, { field: "daemon.heartbeatUrl" })
    : undefined;
  const { cluster } = await openCluster(globals, {
    warn: (message) => out.log("warn", message),
    log: (message, fields) => out.log("info", message, fields),
  });

  const controller = new AbortController();
  let stoppedBy = "";
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    stoppedBy = signal;
    out.log("info", `${signal} received: stopping (no new work; waiting for work in flight)`);
    controller.abort();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  let summary: DaemonSummary;
  try {
    const daemon = new Daemon({
      config,
      cluster,
      destination,
      channels,
      log: (level, message, fields) => out.log(level, message, fields),
      shutdownTimeoutMs,
      ...(heartbeatUrl ? { heartbeatUrl } : {}),
      ...(metricsPort !== undefined ? { metricsPort } : {}),
      // Always explicit: the flag, else daemon.metricsHost (default loopback).
      metricsHost,
      ...(slotSource ? { slotSource } : {}),
      ...(flags.internalTick ? { tickMs: parseDuration(flags.internalTick, "--internal-tick") } : {}),
      ...(flags.internalSecondsCron ? { followIntervalMs: 1_000 } : {}),
    });
    if (slotSource)
      out.log(
        "warn",
        `INTERNAL: every schedule fires on "${flags.internalSecondsCron}" (seconds-level, demo/tests only)`,
      );
    summary = await daemon.run(controller.signal);
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
  const result = { stoppedBy, ...summary };
  out.result(result, renderSummary);
  if (summary.abandoned > 0 && process.argv[1] && /(bin\.ts|kots-backup)$/.test(process.argv[1])) {
    // Work in flight outlived the shutdown timeout: do not let its sockets hold the process.
    setTimeout(() => process.exit(ExitCode.ok), 1_000).unref();
  }
  return ExitCode.ok;
};

// The daemon's Prometheus endpoint: `/metrics` (text exposition format 0.0.4) with the per-schedule
// figures `verify` computes, rendered by the metrics adapter (adapters/src/metrics: the same names
// as the Lambda's CloudWatch EMF metrics), plus the daemon's own counters; `/healthz` answers 200
// while the loop is ticking.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PROMETHEUS_CONTENT_TYPE, PrometheusMetrics } from "@kots-backup/adapters/metrics/prometheus";
import { DEFAULT_METRICS_HOST } from "@kots-backup/core/config";
import type { ScheduleFigures } from "@kots-backup/core/usecases/verify";

export class DaemonMetrics {
  readonly verify = new PrometheusMetrics();
  lastTickAt: number | undefined;
  lastVerifyAt: number | undefined;
  readonly counters = {
    verifyErrors: 0,
    slotsFired: 0,
    backupsStarted: 0,
    exportsCompleted: 0,
    exportsFailed: 0,
    heartbeatFailures: 0,
  };

  /** Records one verify run's figures. */
  record(cluster: string, checkedAt: Date, figures: readonly ScheduleFigures[]): void {
    this.verify.record({ cluster, checkedAt, schedules: figures });
    this.lastVerifyAt = checkedAt.getTime();
  }

  render(): string {
    const lines: string[] = [];
    const counters: [keyof DaemonMetrics["counters"], string, string][] = [
      ["verifyErrors", "kots_backup_daemon_verify_errors_total", "Daemon reconcile/verify runs that failed."],
      ["slotsFired", "kots_backup_daemon_slots_fired_total", "Schedule slots the daemon fired."],
      ["backupsStarted", "kots_backup_daemon_backups_started_total", "Backups the daemon asked kotsadm for."],
      [
        "exportsCompleted",
        "kots_backup_daemon_exports_completed_total",
        "Exports the daemon completed (verified).",
      ],
      ["exportsFailed", "kots_backup_daemon_exports_failed_total", "Exports the daemon started that failed."],
      ["heartbeatFailures", "kots_backup_daemon_heartbeat_failures_total", "Heartbeat pings that failed."],
    ];
    for (const [key, name, help] of counters) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${this.counters[key]}`);
    }
    return `${this.verify.render()}${lines.join("\n")}\n`;
  }
}

export interface MetricsServer {
  /** The address it listens on. */
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` and `/healthz` on `port` (0: any free port) on `host`, by default loopback only. */
export async function serveMetrics(
  metrics: DaemonMetrics,
  options: { port: number; host?: string; staleAfterMs: number },
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE }).end(metrics.render());
    } else if (path === "/healthz") {
      const fresh =
        metrics.lastTickAt !== undefined && Date.now() - metrics.lastTickAt <= options.staleAfterMs;
      res.writeHead(fresh ? 200 : 503, { "content-type": "text/plain" }).end(fresh ? "ok\n" : "stalled\n");
    } else res.writeHead(404, { "content-type": "text/plain" }).end("try /metrics or /healthz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? DEFAULT_METRICS_HOST, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

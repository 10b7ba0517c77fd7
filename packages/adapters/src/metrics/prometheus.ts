// Prometheus text exposition (format 0.0.4) of the same figures, for the daemon's /metrics endpoint.
// Gauges per schedule carry `cluster` and `schedule` labels; the heartbeat is the Unix time of the
// last verify run (alert on `time() - kots_backup_verify_heartbeat_timestamp_seconds > …`), plus a
// run counter. Unknown figures are left out rather than exported as 0.
import { METRICS, SCHEDULE_METRICS, type VerifyFigures } from "./figures.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(",")}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** The exposition text for the last run's figures and the number of runs so far. */
export function prometheusText(figures: VerifyFigures | undefined, runs: number): string {
  const lines: string[] = [];
  const family = (name: string, help: string, type: "gauge" | "counter") => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  if (figures) {
    for (const key of SCHEDULE_METRICS) {
      const m = METRICS[key];
      family(m.prometheus, m.help, "gauge");
      for (const s of figures.schedules) {
        const value = s[key];
        if (value === undefined) continue;
        lines.push(
          `${m.prometheus}${labels({ cluster: figures.cluster, schedule: s.schedule })} ${number(value)}`,
        );
      }
    }
    family(METRICS.checkDown.prometheus, METRICS.checkDown.help, "gauge");
    for (const s of figures.schedules) {
      lines.push(
        `${METRICS.checkDown.prometheus}${labels({ cluster: figures.cluster, schedule: s.schedule, state: s.state })} ${s.state === "down" ? 1 : 0}`,
      );
    }
    family(METRICS.heartbeat.prometheus, METRICS.heartbeat.help, "gauge");
    lines.push(
      `${METRICS.heartbeat.prometheus}${labels({ cluster: figures.cluster })} ${number(Math.floor(figures.checkedAt.getTime() / 1000))}`,
    );
  }
  family("kots_backup_verify_runs_total", "Verify runs completed since the process started.", "counter");
  lines.push(`kots_backup_verify_runs_total ${runs}`);
  return `${lines.join("\n")}\n`;
}

/** Keeps the last run's figures for the daemon's /metrics endpoint. */
export class PrometheusMetrics {
  #last: VerifyFigures | undefined;
  #runs = 0;

  record(figures: VerifyFigures): void {
    this.#last = figures;
    this.#runs += 1;
  }

  render(): string {
    return prometheusText(this.#last, this.#runs);
  }
}

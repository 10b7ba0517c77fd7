// CloudWatch Embedded Metric Format (EMF) documents for a verify run: one JSON line per schedule
// (dimensions service, Cluster, Schedule: SecondsSinceLastSuccess, LastBackupDurationSeconds,
// ExportBytes, CheckDown) and one Heartbeat line per run (dimensions `service` alone, which is what the
// infra's dead man's switch alarm watches with TreatMissingData=breaching, and service + Cluster).
// Written to stdout in Lambda, CloudWatch Logs turns them into metrics. The shape is the one
// Powertools' Metrics utility prints (namespace KotsBackup, default dimension `service`); we write it
// directly so that the adapters do not depend on the functions package: this is the one EMF path, the
// Heartbeat included.
// Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
import { METRICS_NAMESPACE, SERVICE_NAME } from "@kots-backup/core";
import { METRICS, SCHEDULE_METRICS, type VerifyFigures } from "./figures.ts";

export const DEFAULT_NAMESPACE = METRICS_NAMESPACE;
/** Powertools' `service` dimension, as the functions and infra/alerting.ts set it. */
export const DEFAULT_SERVICE = SERVICE_NAME;

export interface EmfOptions {
  namespace?: string;
  service?: string;
}

export interface EmfMetric {
  Name: string;
  Unit: string;
}

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: EmfMetric[] }[];
  };
  [field: string]: unknown;
}

/** The EMF documents of one verify run. A figure that is unknown (never succeeded…) is left out. */
export function emfDocuments(figures: VerifyFigures, options: EmfOptions = {}): EmfDocument[] {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const service = options.service ?? DEFAULT_SERVICE;
  const timestamp = figures.checkedAt.getTime();
  const docs: EmfDocument[] = [];
  for (const s of figures.schedules) {
    const metrics: EmfMetric[] = [];
    const values: Record<string, number> = {};
    for (const key of SCHEDULE_METRICS) {
      const value = s[key];
      if (value === undefined || !Number.isFinite(value)) continue;
      metrics.push({ Name: METRICS[key].cloudWatch, Unit: METRICS[key].unit });
      values[METRICS[key].cloudWatch] = value;
    }
    metrics.push({ Name: METRICS.checkDown.cloudWatch, Unit: METRICS.checkDown.unit });
    values[METRICS.checkDown.cloudWatch] = s.state === "down" ? 1 : 0;
    docs.push({
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          { Namespace: namespace, Dimensions: [["service", "Cluster", "Schedule"]], Metrics: metrics },
        ],
      },
      service,
      Cluster: figures.cluster,
      Schedule: s.schedule,
      State: s.state,
      ...values,
    });
  }
  docs.push({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [["service"], ["service", "Cluster"]],
          Metrics: [{ Name: METRICS.heartbeat.cloudWatch, Unit: METRICS.heartbeat.unit }],
        },
      ],
    },
    service,
    Cluster: figures.cluster,
    [METRICS.heartbeat.cloudWatch]: 1,
  });
  return docs;
}

/** The documents as lines (one JSON object per line, as CloudWatch Logs expects). */
export function emfLines(figures: VerifyFigures, options: EmfOptions = {}): string[] {
  return emfDocuments(figures, options).map((d) => JSON.stringify(d));
}

/** Writes the run's EMF lines (default: stdout, where Lambda's log capture picks them up). */
export function publishEmf(
  figures: VerifyFigures,
  write: (line: string) => void = (line) => process.stdout.write(line),
  options: EmfOptions = {},
): void {
  for (const line of emfLines(figures, options)) write(`${line}\n`);
}

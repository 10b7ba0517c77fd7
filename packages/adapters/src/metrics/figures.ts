// The figures verify publishes, as both metric adapters read them. Structural, so that this package
// does not depend on the use case's module layout.

export interface ScheduleFigure {
  schedule: string;
  /** The check's state (`up | grace | down | paused | new`). */
  state: string;
  secondsSinceLastSuccess?: number;
  lastBackupDurationSeconds?: number;
  exportBytes?: number;
}

export interface VerifyFigures {
  cluster: string;
  /** When the verify run checked (its `now`). */
  checkedAt: Date;
  schedules: readonly ScheduleFigure[];
}

/** Metric names (CloudWatch) and their Prometheus counterparts. */
export const METRICS = {
  secondsSinceLastSuccess: {
    cloudWatch: "SecondsSinceLastSuccess",
    unit: "Seconds",
    prometheus: "kots_backup_seconds_since_last_success",
    help: "Seconds since the schedule's newest successful backup completed (absent when none ever did).",
  },
  lastBackupDurationSeconds: {
    cloudWatch: "LastBackupDurationSeconds",
    unit: "Seconds",
    prometheus: "kots_backup_last_backup_duration_seconds",
    help: "Duration of the schedule's newest finished backup, start to completion.",
  },
  exportBytes: {
    cloudWatch: "ExportBytes",
    unit: "Bytes",
    prometheus: "kots_backup_export_bytes",
    help: "Bytes of the newest verified export of the schedule's backups.",
  },
  checkDown: {
    cloudWatch: "CheckDown",
    unit: "Count",
    prometheus: "kots_backup_check_down",
    help: "1 when the schedule's check is down, else 0.",
  },
  heartbeat: {
    cloudWatch: "Heartbeat",
    unit: "Count",
    prometheus: "kots_backup_verify_heartbeat_timestamp_seconds",
    help: "Unix time of the last completed verify run (the dead man's switch).",
  },
} as const;

export type ScheduleMetric = "secondsSinceLastSuccess" | "lastBackupDurationSeconds" | "exportBytes";
export const SCHEDULE_METRICS: readonly ScheduleMetric[] = [
  "secondsSinceLastSuccess",
  "lastBackupDurationSeconds",
  "exportBytes",
];

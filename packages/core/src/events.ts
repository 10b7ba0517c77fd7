// The events kots-backup emits on the bus: one detail-type per fact.
export const EVENT_SOURCE = "kots-backup";

/** The service name in logs and metrics (Powertools `service`, the EMF `service` dimension). */
export const SERVICE_NAME = "kots-backup";
/** CloudWatch metric namespace of every figure kots-backup publishes (and the dead man's switch alarm). */
export const METRICS_NAMESPACE = "KotsBackup";

export const DetailType = {
  backupStarted: "Backup Started",
  backupCompleted: "Backup Completed",
  backupFailed: "Backup Failed",
  backupSkipped: "Backup Skipped",
  exportCompleted: "Export Completed",
  exportFailed: "Export Failed",
  checkDown: "Check Down",
  checkUp: "Check Up",
} as const;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

export interface EventDetail {
  cluster: string;
  schedule?: string;
  backup?: string;
  reasons?: string[];
  /** RFC 3339 UTC: when the incident or the fact began. */
  since?: string;
  /** `kots-backup:<cluster>:<schedule>` (or `kots-backup:<cluster>` without a schedule). */
  dedupKey: string;
  /** Human sentence: what is wrong or what happened, and the next step. */
  message?: string;
  [extra: string]: unknown;
}

export interface KotsBackupEvent {
  detailType: DetailType;
  detail: EventDetail;
  /** RFC 3339 UTC. */
  time: string;
}

export function dedupKey(cluster: string, schedule?: string): string {
  return schedule ? `kots-backup:${cluster}:${schedule}` : `kots-backup:${cluster}`;
}

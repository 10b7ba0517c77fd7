// Velero `velero.io/v1` Backup: the fields kots-backup reads, the 13 phases of v1.18 and KOTS's status
// mapping. One table, in one place (velero:pkg/apis/velero/v1/backup_types.go; kots GetStatusFromBackupPhase).

export const VeleroPhase = {
  /** Created, not yet seen by Velero's controllers (an empty phase reads as New). */
  New: "New",
  /** Waiting for a slot: Velero runs `--concurrent-backups` (default 1) at a time. New in v1.18. */
  Queued: "Queued",
  /** Given a slot; the backup controller picks it up next. New in v1.18. */
  ReadyToStart: "ReadyToStart",
  /** Refused before starting (e.g. BSL not found, bad selectors); nothing was backed up. Terminal. */
  FailedValidation: "FailedValidation",
  /** Resources and volumes are being backed up. */
  InProgress: "InProgress",
  /** Items done; asynchronous plugin operations (CSI, data mover) still running. */
  WaitingForPluginOperations: "WaitingForPluginOperations",
  /** As above, and some item already failed: will end PartiallyFailed. */
  WaitingForPluginOperationsPartiallyFailed: "WaitingForPluginOperationsPartiallyFailed",
  /** Plugin operations done; Velero rewrites the backup's metadata in object storage. */
  Finalizing: "Finalizing",
  /** As above, and will end PartiallyFailed. */
  FinalizingPartiallyFailed: "FinalizingPartiallyFailed",
  /** Done without errors: the only phase that is a good backup. Terminal. */
  Completed: "Completed",
  /** Done, but some items or volumes failed: restorable only in part. Terminal. */
  PartiallyFailed: "PartiallyFailed",
  /** Stopped by an error; not restorable. Terminal. */
  Failed: "Failed",
  /** A DeleteBackupRequest is removing it. */
  Deleting: "Deleting",
} as const;
export type VeleroPhase = (typeof VeleroPhase)[keyof typeof VeleroPhase];

/** Phases after which Velero never touches the backup again (except deletion). */
export const TERMINAL_PHASES: ReadonlySet<string> = new Set([
  VeleroPhase.Completed,
  VeleroPhase.PartiallyFailed,
  VeleroPhase.Failed,
  VeleroPhase.FailedValidation,
]);

/** Terminal phases that count as a failed backup (exit 1, `failed` reason). */
export const FAILED_PHASES: ReadonlySet<string> = new Set([
  VeleroPhase.PartiallyFailed,
  VeleroPhase.Failed,
  VeleroPhase.FailedValidation,
]);

/** KOTS's status of a backup, as the admin console and `kubectl kots` show it. */
export const KotsStatus = {
  /** Any non-terminal phase, including New and Queued. */
  InProgress: "InProgress",
  Completed: "Completed",
  /** Any phase containing "Fail" (PartiallyFailed included). */
  Failed: "Failed",
  Deleting: "Deleting",
} as const;
export type KotsStatus = (typeof KotsStatus)[keyof typeof KotsStatus];

/** The phase as Velero reports it, with an empty or missing phase read as `New` (as `kubectl kots` does). */
export function phaseOf(backup: Pick<VeleroBackup, "status">): string {
  const phase = backup.status?.phase;
  return phase === undefined || phase === "" ? VeleroPhase.New : phase;
}

export function isTerminalPhase(phase: string): boolean {
  return TERMINAL_PHASES.has(phase);
}

/** KOTS mapping: "Fail" anywhere → Failed; Completed; Deleting; everything else (unknown phases too) → InProgress. */
export function kotsStatusOf(phase: string): KotsStatus {
  if (phase.toLowerCase().includes("fail")) return KotsStatus.Failed;
  if (phase === VeleroPhase.Completed) return KotsStatus.Completed;
  if (phase === VeleroPhase.Deleting) return KotsStatus.Deleting;
  return KotsStatus.InProgress;
}

/** Annotations and labels KOTS and Velero put on Backups (kots-velero.md §1.3, §1.4, §5.1). */
export const BackupAnnotation = {
  instance: "kots.io/instance",
  trigger: "kots.io/snapshot-trigger",
  requested: "kots.io/snapshot-requested",
  kotsadmImage: "kots.io/kotsadm-image",
  kotsadmNamespace: "kots.io/kotsadm-deploy-namespace",
  appsSequences: "kots.io/apps-sequences",
  appId: "kots.io/app-id",
  appSequence: "kots.io/app-sequence",
  drVersion: "replicated.com/disaster-recovery-version",
  drBackupType: "replicated.com/backup-type",
  drBackupCount: "replicated.com/backup-count",
} as const;

export const BackupLabel = {
  /** Groups the two Backups of an improved-DR pair. */
  drBackupName: "replicated.com/backup-name",
  storageLocation: "velero.io/storage-location",
  scheduleName: "velero.io/schedule-name",
} as const;

/** The parts of a Velero Backup kots-backup reads. Times are RFC 3339 strings as the API returns them. */
export interface VeleroBackup {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    storageLocation?: string;
    ttl?: string;
    includedNamespaces?: string[];
    defaultVolumesToFsBackup?: boolean;
  };
  status?: {
    phase?: string;
    formatVersion?: string;
    expiration?: string;
    startTimestamp?: string;
    completionTimestamp?: string;
    errors?: number;
    warnings?: number;
    failureReason?: string;
    validationErrors?: string[];
    queuePosition?: number;
    progress?: { totalItems?: number; itemsBackedUp?: number };
  };
}

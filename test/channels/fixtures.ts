// Events as the core emits them (docs/contract.md §5), for the channel tests.
import type { EventDetail, KotsBackupEvent } from "@kots-backup/core";
import { DetailType, dedupKey } from "@kots-backup/core";

export const CLUSTER = "prod-east";
export const SCHEDULE = "nightly";

export function event(
  detailType: DetailType,
  extra: Partial<EventDetail> = {},
  time = "2025-03-04T05:06:07Z",
): KotsBackupEvent {
  return {
    detailType,
    time,
    detail: { cluster: CLUSTER, schedule: SCHEDULE, dedupKey: dedupKey(CLUSTER, SCHEDULE), ...extra },
  };
}

export const checkDown = event(DetailType.checkDown, {
  reasons: ["missed", "export-missing"],
  since: "2025-03-04T02:00:00Z",
  lastSuccessAt: "2025-03-03T02:04:11Z",
  lastBackup: "instance-abc12",
  lastExportAt: "2025-03-03T02:30:00Z",
  expectedBy: "2025-03-04T03:00:00Z",
});

export const checkUp = event(
  DetailType.checkUp,
  { since: "2025-03-04T02:00:00Z", lastBackup: "instance-def34", lastSuccessAt: "2025-03-04T06:10:00Z" },
  "2025-03-04T06:12:00Z",
);

export const backupFailed = event(DetailType.backupFailed, {
  backup: "instance-xyz89",
  phase: "PartiallyFailed",
  error: "2 items failed: pod volume backup timed out",
});

export const exportFailed = event(DetailType.exportFailed, {
  backup: "instance-xyz90",
  reasons: ["export-invalid"],
});

export const backupCompleted = event(DetailType.backupCompleted, {
  backup: "instance-ok001",
  phase: "Completed",
});

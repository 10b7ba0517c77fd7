// kotsadm's aggregated view of a Velero Backup (`GET /api/v1/snapshots`): phase mapped to the KOTS
// status (types.GetStatusFromBackupPhase), plus trigger, times and included apps.
import type { KubeObject } from "../k8s/objects.ts";
import type { KotsApp } from "./backup-specs.ts";

export type KotsSnapshotStatus = "InProgress" | "Completed" | "Failed" | "Deleting";

export function kotsStatus(phase: string | undefined): KotsSnapshotStatus {
  if (!phase || phase === "New" || phase === "InProgress") return "InProgress";
  if (phase === "Completed") return "Completed";
  if (phase.toLowerCase().includes("fail")) return "Failed";
  if (phase === "Deleting") return "Deleting";
  return "InProgress";
}

export function snapshotView(backup: KubeObject, apps: KotsApp[]) {
  const annotations = backup.metadata.annotations ?? {};
  const sequences = parseJson(annotations["kots.io/apps-sequences"]);
  const appId = annotations["kots.io/app-id"];
  const included = appId
    ? apps.filter((a) => a.id === appId)
    : apps.filter((a) => sequences !== undefined && a.slug in sequences);
  return {
    name: backup.metadata.name,
    status: kotsStatus(backup.status?.phase),
    trigger: annotations["kots.io/snapshot-trigger"] ?? "",
    ...(appId ? { appID: appId, sequence: Number(annotations["kots.io/app-sequence"] ?? 0) } : {}),
    startedAt: backup.status?.startTimestamp,
    finishedAt: backup.status?.completionTimestamp,
    expiresAt: backup.status?.expiration,
    volumeCount: 0,
    volumeSuccessCount: 0,
    volumeBytes: 0,
    volumeSizeHuman: "0B",
    includedApps: included.map((a) => ({ slug: a.slug, sequence: a.sequence, name: a.name })),
  };
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

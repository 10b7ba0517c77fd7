// `kots-backup ls`: what `kubectl kots get backups` lists (instance backups of this kotsadm, improved-DR
// pairs rolled up), plus app backups of this kotsadm's apps, newest first (the rules live in backups.ts).
import { type BackupSummary, listBackups as summarize } from "../backups.ts";
import { EnvironmentError, InputError } from "../errors.ts";
import type { ClusterApp, KotsCluster } from "../ports.ts";
import type { SlotClaim } from "../state.ts";
import type { SlotClaimStore, UseCaseLog } from "./ports.ts";

export interface ListBackupsInput {
  /** Only this app's (partial) backups. */
  app?: string;
  /** Field name for messages (`--app`, or `app` in an event). */
  appField?: string;
}

export interface ListBackupsDeps {
  cluster: KotsCluster;
  /** To mark backups kots-backup started for a schedule; optional (no config → no state). */
  claims?: SlotClaimStore;
  log?: UseCaseLog;
}

export async function listBackups(input: ListBackupsInput, deps: ListBackupsDeps): Promise<BackupSummary[]> {
  return (await listBackupsWithNames(input, deps)).summaries;
}

/** The listing, plus the names of the Velero Backups behind it (an improved-DR pair's entry is not one). */
export async function listBackupsWithNames(
  input: ListBackupsInput,
  deps: ListBackupsDeps,
): Promise<{ summaries: BackupSummary[]; names: ReadonlySet<string> }> {
  const { cluster } = deps;
  const log: UseCaseLog = deps.log ?? (() => {});
  let apps: ClusterApp[] | undefined;
  try {
    apps = await cluster.listApps();
  } catch (error) {
    // Without --app the instance backups (all `kubectl kots get backups` shows) still list, from the
    // Kubernetes API alone; app backups need kotsadm's app ids, so their absence is said out loud.
    if (input.app !== undefined || !(error instanceof EnvironmentError)) throw error;
    log("warn", "kotsadm's app list is unavailable: app (partial) backups are not listed", {
      reason: error.message,
    });
  }
  if (input.app !== undefined && apps && !apps.some((a) => a.slug === input.app)) {
    const field = input.appField ?? "--app";
    throw new InputError(
      "unknown-app",
      `${field}: kotsadm in namespace ${cluster.kotsadmNamespace} has no app "${input.app}" (apps: ${apps.map((a) => a.slug).join(", ") || "none"})`,
      { field, fix: "use one of the listed app slugs (kubectl kots get apps)" },
    );
  }
  const readClaims = async (): Promise<SlotClaim[]> => {
    if (!deps.claims) return [];
    try {
      return await deps.claims.listClaims();
    } catch (error) {
      // The listing stands without them: `trigger` then comes from kotsadm's annotation only.
      if (!(error instanceof EnvironmentError)) throw error;
      log("warn", "kots-backup's slot claims are unreadable: scheduled backups may show as manual", {
        reason: error.message,
      });
      return [];
    }
  };
  const [backups, claims] = await Promise.all([cluster.listBackups(), readClaims()]);
  const summaries = summarize(backups, {
    kotsadmNamespace: cluster.kotsadmNamespace,
    ...(apps ? { apps } : {}),
    claims,
    ...(input.app !== undefined ? { app: input.app } : {}),
  });
  return { summaries, names: new Set(backups.map((b) => b.metadata.name)) };
}

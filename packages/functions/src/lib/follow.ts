// Reconcile's follow step: the backups kots-backup started for its schedules (slot claims with outcome
// `started`) are looked at once per run; when one reaches a terminal phase, `Backup Completed` or
// `Backup Failed` goes on the event stream, once. "Once" is a marker `state/followed/<backup>.json`
// written create-only before the event is put (the run that creates it emits; a concurrent run does not)
// and updated with `emittedAt` afterwards; a marker left without `emittedAt` by a run that died is
// taken over (conditional write on its etag) after FOLLOW_LEASE_MS, so the event is not lost.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { NotFoundError, PreconditionFailedError } from "@kots-backup/adapters/store/errors";
import { DetailType, dedupKey, type KotsBackupEvent, type ObjectStore } from "@kots-backup/core";
import { FOLLOWED_PREFIX } from "@kots-backup/core/export-layout";
import type { SlotClaim } from "@kots-backup/core/state";
import { FAILED_PHASES, isTerminalPhase, phaseOf, type VeleroBackup } from "@kots-backup/core/velero";

/** Claims older than this are not followed (their events are long due or were emitted). */
export const FOLLOW_WINDOW_MS = 3 * 86_400_000;
/** A marker without `emittedAt` older than this belongs to a run that died: taken over. */
export const FOLLOW_LEASE_MS = 10 * 60_000;

interface FollowMarker {
  backup: string;
  schedule: string;
  slot: string;
  phase: string;
  takenAt: string;
  emittedAt?: string;
}

export interface FollowedBackup {
  backup: string;
  schedule: string;
  phase: string;
  /** `emitted`: this run put the terminal event; `running`: not terminal yet; `gone`: the Backup was deleted. */
  outcome: "emitted" | "running" | "gone" | "taken-elsewhere";
}

const markerKey = (backup: string) => `${FOLLOWED_PREFIX}${backup}.json`;

async function readMarker(
  store: ObjectStore,
  key: string,
): Promise<{ marker: FollowMarker; etag: string } | undefined> {
  const info = await store.head(key);
  if (!info) return undefined;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await store.get(key)) chunks.push(Buffer.from(chunk as Buffer));
    return { marker: JSON.parse(Buffer.concat(chunks).toString("utf8")) as FollowMarker, etag: info.etag };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** Takes the marker for `marker.backup`: true when this run is the one to emit. */
async function take(store: ObjectStore, marker: FollowMarker, now: number): Promise<string | undefined> {
  const key = markerKey(marker.backup);
  const body = `${JSON.stringify(marker, null, 2)}\n`;
  try {
    return (await store.put(key, body, { ifNoneMatch: true, contentType: "application/json" })).etag;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  const existing = await readMarker(store, key);
  if (!existing || existing.marker.emittedAt) return undefined;
  if (Date.parse(existing.marker.takenAt) + FOLLOW_LEASE_MS > now) return undefined;
  try {
    return (await store.put(key, body, { ifMatch: existing.etag, contentType: "application/json" })).etag;
  } catch (error) {
    if (error instanceof PreconditionFailedError) return undefined;
    throw error;
  }
}

function terminalEvent(
  cluster: string,
  claim: SlotClaim,
  backup: VeleroBackup,
  time: string,
): KotsBackupEvent {
  const phase = phaseOf(backup);
  const failed = FAILED_PHASES.has(phase);
  const name = backup.metadata.name;
  return {
    detailType: failed ? DetailType.backupFailed : DetailType.backupCompleted,
    time,
    detail: {
      cluster,
      schedule: claim.schedule,
      backup: name,
      slot: claim.slot,
      phase,
      ...(failed ? { reasons: ["failed"] } : {}),
      dedupKey: dedupKey(cluster, claim.schedule),
      message: failed
        ? `Backup ${name} ended ${phase} (${backup.status?.errors ?? 0} errors${backup.status?.failureReason ? `: ${backup.status.failureReason}` : ""}). Check it with \`velero backup describe ${name} --details\`.`
        : `Backup ${name} completed.`,
    },
  };
}

/** Follows the claimed backups once; emits the terminal events due. Stops early when `signal` aborts. */
export async function followClaimedBackups(options: {
  cluster: KubeKotsCluster;
  store: ObjectStore;
  claims: readonly SlotClaim[];
  /** Puts the event on the event stream; false when it did not get there (a later run retries). */
  emit: (event: KotsBackupEvent) => Promise<boolean>;
  logger: Logger;
  signal: AbortSignal;
  now?: () => Date;
}): Promise<FollowedBackup[]> {
  const now = options.now ?? (() => new Date());
  const since = now().getTime() - FOLLOW_WINDOW_MS;
  const candidates = options.claims.filter(
    (c) => c.outcome === "started" && c.backup && Date.parse(c.claimedAt) >= since,
  );
  const out: FollowedBackup[] = [];
  for (const claim of candidates) {
    if (options.signal.aborted) break;
    const name = claim.backup as string;
    const existing = await readMarker(options.store, markerKey(name));
    if (existing?.marker.emittedAt) continue;
    const backup = await options.cluster.getBackup(name);
    if (!backup) {
      out.push({ backup: name, schedule: claim.schedule, phase: "", outcome: "gone" });
      continue;
    }
    const phase = phaseOf(backup);
    if (!isTerminalPhase(phase)) {
      out.push({ backup: name, schedule: claim.schedule, phase, outcome: "running" });
      continue;
    }
    const takenAt = now().toISOString();
    const marker: FollowMarker = { backup: name, schedule: claim.schedule, slot: claim.slot, phase, takenAt };
    const etag = await take(options.store, marker, now().getTime());
    if (etag === undefined) {
      out.push({ backup: name, schedule: claim.schedule, phase, outcome: "taken-elsewhere" });
      continue;
    }
    if (!(await options.emit(terminalEvent(options.cluster.name, claim, backup, takenAt)))) {
      // The marker stays without emittedAt: once its lease expires, a later run emits again.
      out.push({ backup: name, schedule: claim.schedule, phase, outcome: "running" });
      continue;
    }
    try {
      await options.store.put(
        markerKey(name),
        `${JSON.stringify({ ...marker, emittedAt: now().toISOString() }, null, 2)}\n`,
        { ifMatch: etag, contentType: "application/json" },
      );
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
    options.logger.info(`followed ${name}: ${phase}`, { backup: name, schedule: claim.schedule, phase });
    out.push({ backup: name, schedule: claim.schedule, phase, outcome: "emitted" });
  }
  return out;
}

// Follow: the backups kots-backup started (or adopted) for a schedule slot are read until they end; when
// one reaches a terminal phase, `Backup Completed` or `Backup Failed` is emitted once, whichever process
// sees it (daemon, Lambda, a restarted daemon).
//
// "Once" is a marker `state/followed/<backup>.json` written create-only before the event is emitted (the
// run that creates it emits; a concurrent run does not) and updated with `emittedAt` afterwards. A marker
// left without `emittedAt` by a run that died, or whose emit did not get through, is taken over (a
// conditional write on its etag) after FOLLOW_LEASE_MS, so the event is late, never lost.
import { DetailType, dedupKey, type KotsBackupEvent } from "../events.ts";
import { followedKey } from "../export-layout.ts";
import type { KotsCluster, ObjectStore } from "../ports.ts";
import { shellArg } from "../runbook.ts";
import { ClaimOutcome, type SlotClaim } from "../state.ts";
import { FAILED_PHASES, isTerminalPhase, phaseOf, type VeleroBackup } from "../velero.ts";
import { hasOnly, readVersionedJson, writeJsonIf } from "./stored-json.ts";

/** Claims older than this are not followed (their events are long due or were emitted). */
export const FOLLOW_WINDOW_MS = 3 * 86_400_000;
/** A marker without `emittedAt` older than this belongs to a run that died: taken over. */
export const FOLLOW_LEASE_MS = 10 * 60_000;

/** A backup to follow: named by a slot claim. */
export interface FollowCandidate {
  backup: string;
  schedule: string;
  slot: string;
}

export interface FollowedBackup {
  backup: string;
  schedule: string;
  phase: string;
  /**
   * `emitted`: this run emitted the terminal event; `running`: not terminal yet (or the event did not get
   * through: a later run retries); `gone`: the Backup was deleted; `taken-elsewhere`: another run holds
   * the marker. A backup whose event was emitted earlier is not listed.
   */
  outcome: "emitted" | "running" | "gone" | "taken-elsewhere";
}

export interface FollowDeps {
  cluster: Pick<KotsCluster, "name" | "getBackup">;
  /** Where the markers live: the destination's `state/`. */
  store: ObjectStore;
  /** Emits the event; false when it did not get where it goes (a later run retries). */
  emit: (event: KotsBackupEvent) => Promise<boolean>;
  now: () => Date;
  signal?: AbortSignal;
}

interface FollowMarker {
  backup: string;
  schedule: string;
  slot: string;
  phase: string;
  takenAt: string;
  emittedAt?: string;
}

const isText = (v: unknown) => typeof v === "string";
const isTime = (v: unknown) => typeof v === "string" && !Number.isNaN(Date.parse(v));
const isMarker = (value: unknown): value is FollowMarker =>
  hasOnly(
    value,
    { backup: isText, schedule: isText, slot: isText, phase: isText, takenAt: isTime },
    { emittedAt: isTime },
  );
const MARKER_READ = {
  maxBytes: 16 * 1024,
  fix: (key: string) => `delete ${key}: the backup's terminal event is then emitted again`,
};

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** The backups to follow: those the claims of the last FOLLOW_WINDOW_MS name as started or adopted. */
export function followCandidates(claims: readonly SlotClaim[], now: Date): FollowCandidate[] {
  const since = now.getTime() - FOLLOW_WINDOW_MS;
  return claims
    .filter((c) => c.outcome === ClaimOutcome.started && c.backup && Date.parse(c.claimedAt) >= since)
    .map((c) => ({ backup: c.backup as string, schedule: c.schedule, slot: c.slot }));
}

/** `Backup Completed` or `Backup Failed` for a Backup in a terminal phase, naming what to run next. */
export function backupEndedEvent(
  cluster: string,
  backup: VeleroBackup,
  context: { schedule?: string; slot?: string },
  time: Date,
): KotsBackupEvent {
  const phase = phaseOf(backup);
  const failed = FAILED_PHASES.has(phase);
  const name = backup.metadata.name;
  const why = backup.status?.failureReason ? `: ${backup.status.failureReason}` : "";
  return {
    detailType: failed ? DetailType.backupFailed : DetailType.backupCompleted,
    time: iso(time),
    detail: {
      cluster,
      ...(context.schedule ? { schedule: context.schedule } : {}),
      backup: name,
      ...(context.slot ? { slot: context.slot } : {}),
      phase,
      ...(failed ? { reasons: ["failed"] } : {}),
      dedupKey: dedupKey(cluster, context.schedule),
      message: failed
        ? `Backup ${shellArg(name)} ended ${phase} (${backup.status?.errors ?? 0} errors${why}). Check it with \`velero backup describe ${shellArg(name)} --details\` and \`velero backup logs ${shellArg(name)}\`.`
        : `Backup ${name} completed.`,
    },
  };
}

/** Takes the marker of `marker.backup`: its etag when this run is the one to emit. */
async function takeMarker(store: ObjectStore, marker: FollowMarker, now: Date): Promise<string | undefined> {
  const key = followedKey(marker.backup);
  const created = await writeJsonIf(store, key, marker, undefined);
  if (created.written) return created.etag;
  const existing = await readVersionedJson(store, key, isMarker, MARKER_READ);
  if (!existing || existing.value.emittedAt) return undefined;
  if (Date.parse(existing.value.takenAt) + FOLLOW_LEASE_MS > now.getTime()) return undefined;
  const taken = await writeJsonIf(store, key, marker, existing.etag);
  return taken.written ? taken.etag : undefined;
}

/** Reads each candidate once and emits the terminal events due. Stops early when `signal` aborts. */
export async function followBackups(
  candidates: readonly FollowCandidate[],
  deps: FollowDeps,
): Promise<FollowedBackup[]> {
  const out: FollowedBackup[] = [];
  for (const { backup: name, schedule, slot } of candidates) {
    if (deps.signal?.aborted) break;
    const existing = await readVersionedJson(deps.store, followedKey(name), isMarker, MARKER_READ);
    if (existing?.value.emittedAt) continue;
    const backup = await deps.cluster.getBackup(name);
    if (!backup) {
      out.push({ backup: name, schedule, phase: "", outcome: "gone" });
      continue;
    }
    const phase = phaseOf(backup);
    if (!isTerminalPhase(phase)) {
      out.push({ backup: name, schedule, phase, outcome: "running" });
      continue;
    }
    const takenAt = deps.now();
    const marker: FollowMarker = { backup: name, schedule, slot, phase, takenAt: iso(takenAt) };
    const etag = await takeMarker(deps.store, marker, takenAt);
    if (etag === undefined) {
      out.push({ backup: name, schedule, phase, outcome: "taken-elsewhere" });
      continue;
    }
    if (!(await deps.emit(backupEndedEvent(deps.cluster.name, backup, { schedule, slot }, takenAt)))) {
      // The marker stays without emittedAt: once its lease expires, a later run emits again.
      out.push({ backup: name, schedule, phase, outcome: "running" });
      continue;
    }
    // Lost to another writer only if our lease expired meanwhile: the event went out either way.
    await writeJsonIf(deps.store, followedKey(name), { ...marker, emittedAt: iso(deps.now()) }, etag);
    out.push({ backup: name, schedule, phase, outcome: "emitted" });
  }
  return out;
}

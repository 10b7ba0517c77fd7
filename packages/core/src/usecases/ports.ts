// What the backup use cases need besides the cluster (ports.ts → KotsCluster): slot claims, events,
// a clock. All injected; the use cases do no I/O of their own.
import type { KotsBackupEvent } from "../events.ts";
import type { SlotClaim } from "../state.ts";

/**
 * kots-backup's slot claims (`<p>/state/…`). `claimSlot` is create-only (S3 `If-None-Match: *`, or
 * the local folder's exclusive create): of any number of concurrent callers for one
 * (schedule, slot), exactly one gets `true`.
 *
 * NOTE for the state-store owner: this is the narrow shape run-backup needs; the adapter in
 * packages/adapters/src/state may offer more (or different names) and be wrapped to this.
 */
export interface SlotClaimStore {
  claimSlot(schedule: string, slotIso: string, record: SlotClaim): Promise<boolean>;
  getClaim(schedule: string, slotIso: string): Promise<SlotClaim | undefined>;
  /** Records the outcome (and backup name) on a claim this caller won. */
  updateClaim(record: SlotClaim): Promise<void>;
  /**
   * Replaces `stale` (a claim whose run died before recording an outcome) with `record`, only if the
   * stored claim is still exactly `stale`: of several runs taking over, one wins.
   */
  takeOverClaim(stale: SlotClaim, record: SlotClaim): Promise<boolean>;
  /** Every claim (for `ls`: which backups kots-backup started for which schedule). */
  listClaims(): Promise<SlotClaim[]>;
}

export type UseCaseLog = (level: "info" | "warn", message: string, fields?: Record<string, unknown>) => void;

export type Emit = (event: KotsBackupEvent) => Promise<void> | void;

// kots-backup's own state on any ObjectStore, under `state/…` (keys from core's export-layout.ts):
//   state/claims/<schedule>/<slot>.json  SlotClaim: written create-only, so exactly one run takes a slot
//   (state/alerts/<schedule>.json is verify's check record: core/usecases/verify-state.ts)
//   state/silences/<schedule>.json       Silence: one maintenance window per schedule
// Every body is JSON checked against a strict shape on read (unknown fields are refused too): corrupt
// state is an EnvironmentError naming the key and how to recover, never silently replaced.
import { isDeepStrictEqual } from "node:util";
import type { ObjectStore } from "@kots-backup/core";
import { EnvironmentError, InputError } from "@kots-backup/core";
import { claimKey, claimsPrefix, STATE_ROOT, silenceKey } from "@kots-backup/core/export-layout";
import { ClaimOutcome, type Silence, type SlotClaim } from "@kots-backup/core/state";
import type { SlotClaimStore } from "@kots-backup/core/usecases/ports";
import {
  hasOnly,
  isPreconditionFailed,
  readVersionedJson,
  toJson,
  type Versioned,
  type WriteResult,
  writeJsonIf,
} from "@kots-backup/core/usecases/stored-json";

export type { Versioned, WriteResult } from "@kots-backup/core/usecases/stored-json";

/** State files are small; anything bigger is not ours. */
const MAX_STATE_BYTES = 1024 * 1024;

const READ_OPTIONS = {
  maxBytes: MAX_STATE_BYTES,
  fix: (key: string) =>
    `inspect ${key}; delete it to let kots-backup start that record afresh (a claim: the slot can be taken again; alert state: the check starts as up)`,
};

export type ClaimResult = { won: true; etag: string } | { won: false; existing: SlotClaim; etag: string };

export class StateStore {
  readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  // --- slot claims ---------------------------------------------------------------------------------

  /**
   * Takes a schedule's slot: a create-only write, so of any number of concurrent callers (threads,
   * processes, Lambdas) exactly one gets `won: true`; the others get the winner's record.
   * `record.schedule` and `record.slot` must name the same slot as the arguments.
   */
  async claimSlot(schedule: string, slotIso: string, record: SlotClaim): Promise<ClaimResult> {
    const key = claimKey(schedule, parseSlot(slotIso));
    if (record.schedule !== schedule || normalizeSlot(record.slot) !== normalizeSlot(slotIso)) {
      throw new InputError(
        "claim-mismatch",
        `claim record for ${record.schedule} ${record.slot} passed for ${key}`,
      );
    }
    checkShape(key, record, isSlotClaim);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const info = await this.store.put(key, toJson(record), {
          ifNoneMatch: true,
          contentType: "application/json",
        });
        return { won: true, etag: info.etag };
      } catch (error) {
        if (!isPreconditionFailed(error)) throw error;
      }
      const existing = await this.readJson(key, isSlotClaim);
      if (existing) return { won: false, existing: existing.value, etag: existing.etag };
      // The winner's claim vanished between our refused write and the read (deleted by hand or by
      // retention): try again rather than report a winner we cannot name.
    }
    throw new EnvironmentError(
      "state-claim-unstable",
      `the claim ${key} in ${this.store.location} keeps changing`,
      {
        fix: "check that nothing else deletes kots-backup's state/claims/ objects",
      },
    );
  }

  async readClaim(schedule: string, slotIso: string): Promise<Versioned<SlotClaim> | undefined> {
    return this.readJson(claimKey(schedule, parseSlot(slotIso)), isSlotClaim);
  }

  /** Replaces a claim only if it is still at `etag` (e.g. to record the backup name). */
  async updateClaim(claim: SlotClaim, etag: string): Promise<WriteResult> {
    const key = claimKey(claim.schedule, parseSlot(claim.slot));
    checkShape(key, claim, isSlotClaim);
    return writeJsonIf(this.store, key, claim, etag);
  }

  /** The claims of one schedule (or of every schedule), in key order, i.e. by schedule then slot. */
  async listClaims(schedule?: string): Promise<SlotClaim[]> {
    const prefix = schedule === undefined ? `${STATE_ROOT}claims/` : claimsPrefix(schedule);
    const claims: SlotClaim[] = [];
    for await (const info of this.store.list(prefix)) {
      if (!info.key.endsWith(".json")) continue;
      const claim = await this.readJson(info.key, isSlotClaim);
      if (claim) claims.push(claim.value);
    }
    return claims;
  }

  // --- alert state ---------------------------------------------------------------------------------

  /** Sets (or replaces) the schedule's silence. */
  async setSilence(silence: Silence): Promise<void> {
    const key = silenceKey(silence.schedule);
    checkShape(key, silence, isSilence);
    await this.store.put(key, toJson(silence), { contentType: "application/json" });
  }

  async clearSilence(schedule: string): Promise<void> {
    await this.store.delete(silenceKey(schedule));
  }

  async readSilence(schedule: string): Promise<Silence | undefined> {
    return (await this.readJson(silenceKey(schedule), isSilence))?.value;
  }

  /** Every silence, or with `activeAt` only those still running at that time. */
  async listSilences(options: { activeAt?: Date } = {}): Promise<Silence[]> {
    const silences: Silence[] = [];
    for await (const info of this.store.list(`${STATE_ROOT}silences/`)) {
      if (!info.key.endsWith(".json")) continue;
      const silence = await this.readJson(info.key, isSilence);
      if (!silence) continue;
      if (options.activeAt && Date.parse(silence.value.until) <= options.activeAt.getTime()) continue;
      silences.push(silence.value);
    }
    return silences;
  }

  // --- internals -----------------------------------------------------------------------------------

  private readJson<T>(key: string, guard: (value: unknown) => value is T): Promise<Versioned<T> | undefined> {
    return readVersionedJson(this.store, key, guard, READ_OPTIONS);
  }
}

/**
 * The narrow SlotClaimStore the backup use case needs (core/usecases/ports.ts), on a StateStore.
 * `updateClaim` re-reads the claim's etag and retries a lost race a few times: only the winner of a
 * slot updates its claim, so a race there means someone else is writing it too.
 */
export function slotClaimStore(state: StateStore): SlotClaimStore {
  return {
    async claimSlot(schedule, slotIso, record) {
      return (await state.claimSlot(schedule, slotIso, record)).won;
    },
    async getClaim(schedule, slotIso) {
      return (await state.readClaim(schedule, slotIso))?.value;
    },
    async takeOverClaim(stale, record) {
      const current = await state.readClaim(stale.schedule, stale.slot);
      if (!current || !isDeepStrictEqual(current.value, stale)) return false;
      return (await state.updateClaim(record, current.etag)).written;
    },
    async updateClaim(record) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await state.readClaim(record.schedule, record.slot);
        if (!current) {
          throw new EnvironmentError(
            "state-claim-missing",
            `claim ${record.schedule} ${record.slot} disappeared`,
            {
              fix: "check that nothing else deletes kots-backup's state/claims/ objects",
            },
          );
        }
        if ((await state.updateClaim(record, current.etag)).written) return;
      }
      throw new EnvironmentError(
        "state-claim-contended",
        `claim ${record.schedule} ${record.slot} is being changed by another writer`,
        { fix: "check that only one kots-backup deployment uses this destination" },
      );
    },
    listClaims: () => state.listClaims(),
  };
}

// --- shapes ----------------------------------------------------------------------------------------

type Guard<T> = (value: unknown) => value is T;

function checkShape<T>(key: string, value: T, guard: Guard<T>): void {
  if (!guard(value)) {
    throw new InputError(
      "invalid-state-record",
      `refusing to write ${key}: the record does not have the expected fields`,
    );
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const isTime = (v: unknown): v is string =>
  typeof v === "string" && RFC3339.test(v) && !Number.isNaN(Date.parse(v));
const isString = (v: unknown): v is string => typeof v === "string";

const OUTCOMES: readonly unknown[] = Object.values(ClaimOutcome);

export function isSlotClaim(value: unknown): value is SlotClaim {
  return hasOnly(
    value,
    { schedule: isString, slot: isTime, claimedAt: isTime },
    { outcome: (v) => OUTCOMES.includes(v), backup: isString },
  );
}

export function isSilence(value: unknown): value is Silence {
  return hasOnly(value, { schedule: isString, until: isTime, createdAt: isTime }, { reason: isString });
}

// --- helpers ---------------------------------------------------------------------------------------

function parseSlot(slotIso: string): Date {
  const date = new Date(slotIso);
  if (!isTime(slotIso) || Number.isNaN(date.getTime())) {
    throw new InputError("invalid-slot", `slot ${JSON.stringify(slotIso)} is not an RFC 3339 time`, {
      fix: "pass the scheduled time as e.g. 2026-01-31T02:00:00Z",
    });
  }
  return date;
}

function normalizeSlot(slotIso: string): string {
  return parseSlot(slotIso)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z");
}

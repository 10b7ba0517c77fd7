// kots-backup's own state on any ObjectStore, under `state/…` (keys from core's export-layout.ts):
//   state/claims/<schedule>/<slot>.json  SlotClaim: written create-only, so exactly one run takes a slot
//   (state/alerts/<schedule>.json is verify's check record: core/usecases/verify-state.ts)
//   state/silences/<schedule>.json       Silence: one maintenance window per schedule
// Every body is JSON checked against a strict shape on read (unknown fields are refused too): corrupt
// state is an EnvironmentError naming the key and how to recover, never silently replaced.
import type { ObjectStore } from "@kots-backup/core";
import { EnvironmentError, InputError } from "@kots-backup/core";
import { claimKey, claimsPrefix, STATE_ROOT, silenceKey } from "@kots-backup/core/export-layout";
import { ClaimOutcome, type Silence, type SlotClaim } from "@kots-backup/core/state";
import type { SlotClaimStore } from "@kots-backup/core/usecases/ports";
import { NotFoundError, PreconditionFailedError } from "../store/errors.ts";

/** State files are small; anything bigger is not ours. */
const MAX_STATE_BYTES = 1024 * 1024;

export type ClaimResult = { won: true; etag: string } | { won: false; existing: SlotClaim; etag: string };

/** Outcome of a conditional write: `written: false` means another writer got there first: re-read. */
export type WriteResult = { written: true; etag: string } | { written: false };

export interface Versioned<T> {
  value: T;
  /** Pass back to the conditional write to replace exactly this version. */
  etag: string;
}

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
        if (!(error instanceof PreconditionFailedError)) throw error;
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
    return this.conditionalWrite(key, claim, etag);
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

  private async conditionalWrite(
    key: string,
    value: unknown,
    etag: string | undefined,
  ): Promise<WriteResult> {
    try {
      const info = await this.store.put(key, toJson(value), {
        ...(etag === undefined ? { ifNoneMatch: true } : { ifMatch: etag }),
        contentType: "application/json",
      });
      return { written: true, etag: info.etag };
    } catch (error) {
      if (error instanceof PreconditionFailedError) return { written: false };
      throw error;
    }
  }

  private async readJson<T>(
    key: string,
    guard: (value: unknown) => value is T,
  ): Promise<Versioned<T> | undefined> {
    // head first for the etag, then the body; if the object changed in between, read again so the
    // etag returned is the one of the body returned.
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = await this.store.head(key);
      if (!before) return undefined;
      if (before.size > MAX_STATE_BYTES) throw corrupt(this.store, key, `it is ${before.size} bytes`);
      let text: string | undefined;
      try {
        text = await readText(await this.store.get(key));
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
      const after = await this.store.head(key);
      if (after?.etag !== before.etag) continue;
      if (text === undefined) throw corrupt(this.store, key, `it is larger than ${MAX_STATE_BYTES} bytes`);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw corrupt(this.store, key, "it is not valid JSON");
      }
      if (!guard(value)) throw corrupt(this.store, key, "its fields do not match the expected shape");
      return { value, etag: before.etag };
    }
    throw new EnvironmentError("state-unstable", `${key} in ${this.store.location} changed on every read`, {
      fix: "retry; if it persists, check what else writes kots-backup's state/ objects",
    });
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

function hasOnly(
  value: unknown,
  required: Record<string, (v: unknown) => boolean>,
  optional: Record<string, (v: unknown) => boolean>,
) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  for (const [field, check] of Object.entries(required)) if (!check(record[field])) return false;
  for (const field of Object.keys(record)) {
    if (field in required) continue;
    const check = optional[field];
    if (!check?.(record[field])) return false;
  }
  return true;
}

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

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The body as UTF-8, or undefined when it exceeds MAX_STATE_BYTES. */
async function readText(stream: AsyncIterable<unknown>): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_STATE_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function corrupt(store: ObjectStore, key: string, why: string): EnvironmentError {
  return new EnvironmentError(
    "state-corrupt",
    `kots-backup state ${key} in ${store.location} is corrupt: ${why}`,
    {
      fix: `inspect ${key}; delete it to let kots-backup start that record afresh (a claim: the slot can be taken again; alert state: the check starts as up)`,
    },
  );
}

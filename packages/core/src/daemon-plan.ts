// Which schedule slots the local daemon fires now (pure; no clock, no I/O).
//
// The daemon uses the same slot math as freshness (schedule.ts: croner in the schedule's IANA zone,
// with EventBridge Scheduler's DST rule), so the slots it fires are the slots `verify` expects.
//
// Rules:
// - only the latest slot at or before `now` can be due: a slot is never fired once a newer one has
//   come (no catch-up of older missed slots; freshness reports them as `missed`);
// - it is due when it is newer than the schedule's last fired slot (from this process, or from the
//   slot claims in the state store after a restart) and not later than `maxLatenessMs` (default:
//   the schedule's grace; a slot fired after its grace would already count as missed);
// - paused schedules never fire.
// Exactly-once is not decided here: the caller claims each slot create-only in the state store.
import { Cron } from "croner";
import { InputError } from "./errors.ts";
import { type CronSchedule, lastSlotAtOrBefore, nextSlotAfter } from "./schedule.ts";

/** Where a schedule's slots come from: its cron by default; the demo may override it. */
export interface SlotSource {
  lastSlotAtOrBefore(t: Date): Date | undefined;
  nextSlotAfter(t: Date): Date | undefined;
}

export interface PlanSchedule extends CronSchedule {
  name: string;
  paused?: boolean;
  /** ms; used as the default lateness bound. */
  grace?: number;
}

export interface PlanInput {
  schedules: readonly PlanSchedule[];
  /** Per schedule name: RFC 3339 of the newest slot already fired (or claimed). */
  lastFired: Readonly<Record<string, string | undefined>>;
  now: Date;
  /** Latest a slot may be fired after its time (ms). Default: the schedule's grace, else 1 h. */
  maxLatenessMs?: number;
  /** Override of the slot math (e.g. a seconds-level demo schedule); default the schedule's cron. */
  slotSource?: (schedule: PlanSchedule) => SlotSource;
}

export interface DueSlot {
  schedule: string;
  slot: Date;
  /** How long after the slot it is being fired. */
  lateByMs: number;
}

export interface SkippedSlot {
  schedule: string;
  slot: Date;
  reason: "too-late";
}

export interface Plan {
  due: DueSlot[];
  /** Latest slots that were not fired because they are older than the lateness bound. */
  skipped: SkippedSlot[];
  /** The earliest next slot after `now` across active schedules (when to wake up). */
  nextAt?: Date;
}

const DEFAULT_LATENESS_MS = 3_600_000;

/** The slot math of a schedule's cron (schedule.ts). */
export function cronSlots(schedule: CronSchedule): SlotSource {
  return {
    lastSlotAtOrBefore: (t) => lastSlotAtOrBefore(schedule, t),
    nextSlotAfter: (t) => nextSlotAfter(schedule, t),
  };
}

/**
 * INTERNAL (demo and tests only, never the config file): slots from a 6-field croner cron with
 * seconds (`*\/10 * * * * *`), in UTC. The public config keeps 5-field crons that EventBridge can run.
 */
export function secondsCronSlots(expression: string): SlotSource {
  let job: Cron;
  try {
    job = new Cron(expression, { mode: "6-part", timezone: "UTC", paused: true });
  } catch (error) {
    throw new InputError(
      "invalid-cron",
      `"${expression}" is not a 6-field cron: ${(error as Error).message}`,
      {
        field: "--internal-seconds-cron",
        fix: "write second minute hour day-of-month month day-of-week, e.g. '*/10 * * * * *'",
      },
    );
  }
  return {
    lastSlotAtOrBefore: (t) => job.previousRuns(1, new Date(Math.floor(t.getTime() / 1000) * 1000 + 1000))[0],
    nextSlotAfter: (t) => job.nextRun(t) ?? undefined,
  };
}

/** RFC 3339 UTC without milliseconds, as slot claims name slots. */
export function slotIso(slot: Date): string {
  return slot.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function planSlots(input: PlanInput): Plan {
  const now = input.now.getTime();
  const due: DueSlot[] = [];
  const skipped: SkippedSlot[] = [];
  let nextAt: number | undefined;
  for (const schedule of input.schedules) {
    if (schedule.paused) continue;
    const slots = input.slotSource?.(schedule) ?? cronSlots(schedule);
    const next = slots.nextSlotAfter(input.now)?.getTime();
    if (next !== undefined && (nextAt === undefined || next < nextAt)) nextAt = next;
    const latest = slots.lastSlotAtOrBefore(input.now);
    if (!latest) continue;
    const fired = input.lastFired[schedule.name];
    const firedMs = fired === undefined ? Number.NEGATIVE_INFINITY : Date.parse(fired);
    if (!(latest.getTime() > firedMs)) continue;
    const lateBy = now - latest.getTime();
    const bound = input.maxLatenessMs ?? schedule.grace ?? DEFAULT_LATENESS_MS;
    if (lateBy > bound) skipped.push({ schedule: schedule.name, slot: latest, reason: "too-late" });
    else due.push({ schedule: schedule.name, slot: latest, lateByMs: lateBy });
  }
  return { due, skipped, ...(nextAt === undefined ? {} : { nextAt: new Date(nextAt) }) };
}

/** The newest slot per schedule among claims (`{schedule, slot}` records), for `lastFired` after a restart. */
export function lastFiredFromClaims(
  claims: readonly { schedule: string; slot: string }[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const claim of claims) {
    const current = out[claim.schedule];
    if (current === undefined || Date.parse(claim.slot) > Date.parse(current))
      out[claim.schedule] = claim.slot;
  }
  return out;
}

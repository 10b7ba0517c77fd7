// Slot math: the instants a schedule fires, in its IANA time zone, with EventBridge Scheduler's DST rule.
//
// DST rule (the one EventBridge Scheduler applies to cron schedules with a time zone, so the local
// daemon and the AWS deployment expect the same slots):
// - spring forward: a slot whose wall time falls in the missing hour is SKIPPED (not moved);
// - fall back: a slot whose wall time falls in the repeated hour fires ONCE, at its first occurrence.
// croner differs (Vixie cron): it moves a fixed-time job out of the gap (02:30 → 03:00) and fires
// interval jobs (`0 * * * *`, `*/15 …`) on both passes of a repeated hour. We drop both kinds of
// extra instants: a slot is kept only if its wall time matches the cron and was not already shown.
//
// No catch-up: a slot that passed while nothing ran is simply missed; nothing here replays it.
import type { Cron } from "croner";
import { cronerFor } from "./cron.ts";
import { isRepeatedWallTime, utcOffsetMs } from "./timezone.ts";

export interface CronSchedule {
  cron: string;
  /** IANA zone, e.g. `Europe/Paris`; default `UTC`. */
  timezone?: string;
}

/** Upper bound on slots returned by `slotsBetween`, so that a typo'd range cannot exhaust memory. */
export const MAX_SLOTS = 200_000;

/** More than the instants croner can produce in one repeated or missing hour (60 for `* * * * *`). */
const MAX_DST_SKIPS = 240;

const jobs = new Map<string, Cron>();

function jobFor(schedule: CronSchedule): Cron {
  const zone = schedule.timezone ?? "UTC";
  const key = `${zone} ${schedule.cron}`;
  let job = jobs.get(key);
  if (!job) {
    job = cronerFor(schedule.cron, zone);
    jobs.set(key, job);
  }
  return job;
}

/** True when croner's instant is a real slot under the EventBridge DST rule. */
function isRealSlot(job: Cron, instant: Date, zone: string): boolean {
  if (!nearOffsetChange(instant.getTime(), zone)) return true;
  return job.match(instant) && !isRepeatedWallTime(instant.getTime(), zone);
}

/** Cheap pre-check: only instants within 6 h of a UTC-offset change can be DST artefacts. */
function nearOffsetChange(instantMs: number, zone: string): boolean {
  if (zone === "UTC" || zone === "Etc/UTC") return false;
  return utcOffsetMs(instantMs - SIX_HOURS, zone) !== utcOffsetMs(instantMs + SIX_HOURS, zone);
}

const SIX_HOURS = 6 * 3_600_000;

/** The first slot strictly after `t`. Undefined only for a cron that never fires again. */
export function nextSlotAfter(schedule: CronSchedule, t: Date): Date | undefined {
  const job = jobFor(schedule);
  const zone = schedule.timezone ?? "UTC";
  let cursor: Date | null = new Date(Math.floor(t.getTime() / 1000) * 1000);
  // Every skipped instant is a DST artefact: at most one hour of them (60 for a per-minute cron).
  for (let guard = 0; guard < MAX_DST_SKIPS; guard++) {
    cursor = job.nextRun(cursor);
    if (!cursor) return undefined;
    if (cursor.getTime() > t.getTime() && isRealSlot(job, cursor, zone)) return cursor;
  }
  return undefined;
}

/** The latest slot at or before `t` (a slot exactly at `t` counts). Undefined when none exists. */
export function lastSlotAtOrBefore(schedule: CronSchedule, t: Date): Date | undefined {
  const job = jobFor(schedule);
  const zone = schedule.timezone ?? "UTC";
  // previousRuns looks strictly before its reference; step 1 s past `t` so that a slot at `t` counts.
  let reference = new Date(Math.floor(t.getTime() / 1000) * 1000 + 1000);
  for (let guard = 0; guard < MAX_DST_SKIPS; guard++) {
    const [previous] = job.previousRuns(1, reference);
    if (!previous) return undefined;
    if (previous.getTime() <= t.getTime() && isRealSlot(job, previous, zone)) return previous;
    reference = previous;
  }
  return undefined;
}

/** Every slot in `[from, to)`, oldest first (at most MAX_SLOTS). */
export function slotsBetween(schedule: CronSchedule, from: Date, to: Date): Date[] {
  const slots: Date[] = [];
  let cursor = new Date(from.getTime() - 1);
  while (slots.length < MAX_SLOTS) {
    const slot = nextSlotAfter(schedule, cursor);
    if (!slot || slot.getTime() >= to.getTime()) break;
    slots.push(slot);
    cursor = slot;
  }
  return slots;
}

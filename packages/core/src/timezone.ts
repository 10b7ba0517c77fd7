// Wall-clock helpers over Intl: what a UTC instant reads on the clocks of an IANA time zone.
// Pure (Intl only); formatters are cached per zone because building one is the expensive part.
import { quoteInput } from "./text.ts";

export interface WallClock {
  year: number;
  /** 1–12 */
  month: number;
  /** 1–31 */
  day: number;
  /** 0–23 */
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * Why `timeZone` is not an IANA zone name as IANA spells it (`UTC`, `Europe/Paris`), or undefined when
 * it is one. Intl also accepts UTC offsets (`+05:30`: no daylight saving time, rarely what a schedule
 * means) and any letter case (`europe/paris`); only the IANA spelling is taken, so that every reader of
 * the config (EventBridge Scheduler included) sees the same zone.
 */
export function timeZoneProblem(timeZone: string): { problem: string; fix: string } | undefined {
  if (/^\s*(?:[+-]|(?:UTC|GMT)\s*[+-]\d)/i.test(timeZone)) {
    return {
      problem: `${quoteInput(timeZone)} is a UTC offset, not a time zone`,
      fix: "write the IANA zone of the place (e.g. Asia/Kolkata), which also follows its daylight saving time",
    };
  }
  let resolved: string;
  try {
    if (timeZone.trim() === "") throw new RangeError("empty");
    resolved = formatterFor(timeZone).resolvedOptions().timeZone;
  } catch {
    return {
      problem: `${quoteInput(timeZone)} is not an IANA time zone`,
      fix: "write an IANA zone, e.g. UTC, Europe/Paris or America/New_York",
    };
  }
  if (resolved === timeZone) return undefined;
  // Intl resolves aliases (Asia/Kolkata, Etc/UTC, US/Eastern) to ICU's own name: those are fine when
  // spelled as IANA does, each part capitalized. A name that only differs in case is a misspelling.
  const sameName = resolved.toLowerCase() === timeZone.toLowerCase();
  if (!sameName && timeZone.split("/").every((part) => /^[A-Z]/.test(part))) return undefined;
  return {
    problem: `${quoteInput(timeZone)} is not spelled as the IANA time zone name`,
    fix: `did you mean ${resolved}?`,
  };
}

/** The wall-clock reading of `instantMs` in `timeZone`. */
export function wallClock(instantMs: number, timeZone: string): WallClock {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instantMs))) parts[part.type] = part.value;
  return {
    year: Number(parts["year"]),
    month: Number(parts["month"]),
    day: Number(parts["day"]),
    hour: Number(parts["hour"]),
    minute: Number(parts["minute"]),
    second: Number(parts["second"]),
    weekday: WEEKDAYS.indexOf(parts["weekday"] ?? ""),
  };
}

/** Offset of `timeZone` from UTC at `instantMs`, in ms (Paris in summer: +7_200_000). */
export function utcOffsetMs(instantMs: number, timeZone: string): number {
  const w = wallClock(instantMs, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/**
 * True when the wall-clock time of `instantMs` already happened earlier, i.e. `instantMs` is in the
 * second pass through a repeated (fall-back) hour. Found by trying the offsets in force a few hours
 * either side: if one of them maps the same wall time to an earlier instant, this is the repeat.
 */
export function isRepeatedWallTime(instantMs: number, timeZone: string): boolean {
  const offset = utcOffsetMs(instantMs, timeZone);
  const wall = instantMs + offset;
  const window = 6 * 3_600_000;
  for (const probe of [instantMs - window, instantMs + window]) {
    const other = utcOffsetMs(probe, timeZone);
    if (other === offset) continue;
    const candidate = wall - other;
    if (candidate < instantMs && utcOffsetMs(candidate, timeZone) === other) return true;
  }
  return false;
}

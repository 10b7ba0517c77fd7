// Wall-clock helpers over Intl: what a UTC instant reads on the clocks of an IANA time zone.
// Pure (Intl only); formatters are cached per zone because building one is the expensive part.

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

/** True when `timeZone` is an IANA zone name this runtime knows (`UTC`, `Europe/Paris`, …). */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "") return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
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

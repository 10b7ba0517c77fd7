// Durations as written in the config and on the command line: `30s`, `15m`, `2h`, `7d`, or a
// combination in descending units such as `1h30m`. Parsed to milliseconds; days are 24-hour days.
import { InputError } from "./errors.ts";
import { quoteInput } from "./text.ts";

export const DurationUnitMs = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;
export type DurationUnit = keyof typeof DurationUnitMs;

const UNIT_ORDER: readonly DurationUnit[] = ["d", "h", "m", "s"];
const DURATION_PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses `30s`, `15m`, `2h`, `7d` or `1h30m` to ms, or returns undefined when it is not a duration. */
export function tryParseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match || text.trim() === "") return undefined;
  let total = 0;
  UNIT_ORDER.forEach((unit, index) => {
    const value = match[index + 1];
    if (value !== undefined) total += Number(value) * DurationUnitMs[unit];
  });
  return total;
}

/** The longest duration accepted anywhere (100 years): now ± any duration is always a valid Date. */
export const MAX_DURATION_MS = 36_500 * DurationUnitMs.d;

/** Checks `text` is a duration of at most `maxMs`: its ms, or the problem and the fix to show. */
export function checkDuration(
  text: string,
  maxMs = MAX_DURATION_MS,
): { ms: number } | { problem: string; fix: string } {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    return {
      problem: `${quoteInput(text)} is not a duration`,
      fix: "write a number followed by s, m, h or d, e.g. 30s, 15m, 2h, 7d or 1h30m",
    };
  }
  if (ms > maxMs) {
    return {
      problem: `${quoteInput(text)} is longer than the maximum of ${formatDuration(maxMs)}`,
      fix: `write at most ${formatDuration(maxMs)}`,
    };
  }
  return { ms };
}

/** Parses a duration of at most `maxMs` to ms; throws an InputError naming `field` otherwise. */
export function parseDuration(text: string, field = "duration", maxMs = MAX_DURATION_MS): number {
  const checked = checkDuration(text, maxMs);
  if ("problem" in checked) {
    throw new InputError("invalid-duration", `${field}: ${checked.problem}`, { field, fix: checked.fix });
  }
  return checked.ms;
}

/** Formats ms as the shortest combination of d/h/m/s (`5400000` → `1h30m`); sub-second parts are dropped. */
export function formatDuration(ms: number): string {
  let rest = Math.floor(Math.max(0, ms) / 1000) * 1000;
  if (rest === 0) return "0s";
  let out = "";
  for (const unit of UNIT_ORDER) {
    const size = DurationUnitMs[unit];
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}

// Durations as written in the config and on the command line: `30s`, `15m`, `2h`, `7d`, or a
// combination in descending units such as `1h30m`. Parsed to milliseconds; days are 24-hour days.
import { InputError } from "./errors.ts";

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

/** Parses a duration to ms; throws an InputError naming `field` when the text is not one. */
export function parseDuration(text: string, field = "duration"): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new InputError("invalid-duration", `${field}: "${text}" is not a duration`, {
      field,
      fix: "write a number followed by s, m, h or d, e.g. 30s, 15m, 2h, 7d or 1h30m",
    });
  }
  return ms;
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

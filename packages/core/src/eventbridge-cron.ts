// 5-field cron → EventBridge Scheduler `cron(minutes hours day-of-month month day-of-week year)`.
// EventBridge differs from standard cron in three ways that matter here:
// - day of week is 1–7 with SUN = 1 (standard: 0–6 with SUN = 0, 7 also Sunday);
// - one of the two day fields must be `?`;
// - it cannot OR the two day fields, which standard cron does when both are restricted
//   (`0 0 1 * MON` = "the 1st, and every Monday"). Such a cron is refused, not approximated.
// Every field is re-rendered from its value set, so steps and ranges come out in a form EventBridge
// reads the same way (`a/s` for "from a every s to the end", lists and `a-b` otherwise).
import { type CronField, parseCron } from "./cron.ts";
import { InputError } from "./errors.ts";

/** ScheduleExpression length limit of EventBridge Scheduler. */
export const EVENTBRIDGE_EXPRESSION_MAX = 256;

function runs(values: number[]): string[] {
  const parts: string[] = [];
  let index = 0;
  while (index < values.length) {
    let end = index;
    while (end + 1 < values.length && values[end + 1] === (values[end] ?? 0) + 1) end++;
    const first = values[index] ?? 0;
    const last = values[end] ?? 0;
    if (end === index) parts.push(`${first}`);
    else if (end === index + 1) parts.push(`${first},${last}`);
    else parts.push(`${first}-${last}`);
    index = end + 1;
  }
  return parts;
}

/** `a/s` when the values are exactly a, a+s, … up to `max`; undefined otherwise. */
function asStep(values: number[], max: number): string | undefined {
  const [first, second] = values;
  if (first === undefined || second === undefined || values.length < 3) return undefined;
  const step = second - first;
  if (step < 2) return undefined;
  const expected: number[] = [];
  for (let value = first; value <= max; value += step) expected.push(value);
  return expected.length === values.length && expected.every((v, i) => v === values[i])
    ? `${first}/${step}`
    : undefined;
}

function render(values: number[], min: number, max: number): string {
  if (values.length === max - min + 1) return "*";
  return asStep(values, max) ?? runs(values).join(",");
}

function restricts(field: CronField): boolean {
  return !field.unrestricted;
}

/**
 * Converts a validated 5-field cron to an EventBridge Scheduler expression, `cron(…)`.
 * Throws InputError (`cron-not-portable`) naming `field` when EventBridge cannot express it.
 */
export function toEventBridgeCron(expression: string, field = "cron"): string {
  const fields = parseCron(expression, field);
  const { minute, hour, dayOfMonth, month, dayOfWeek } = fields;
  if (restricts(dayOfMonth) && restricts(dayOfWeek)) {
    throw new InputError(
      "cron-not-portable",
      `${field}: "${expression}" restricts both day-of-month and day-of-week, which cron combines with OR and EventBridge Scheduler cannot express`,
      { field, fix: "restrict only one of the two day fields and set the other to *, or use two schedules" },
    );
  }
  const minutes = render(minute.values, 0, 59);
  const hours = render(hour.values, 0, 23);
  const months = render(month.values, 1, 12);
  let days: string;
  let weekdays: string;
  if (restricts(dayOfWeek)) {
    days = "?";
    weekdays = render(
      dayOfWeek.values.map((d) => d + 1),
      1,
      7,
    );
  } else {
    days = render(dayOfMonth.values, 1, 31);
    weekdays = "?";
  }
  const result = `cron(${minutes} ${hours} ${days} ${months} ${weekdays} *)`;
  if (result.length > EVENTBRIDGE_EXPRESSION_MAX) {
    throw new InputError(
      "cron-not-portable",
      `${field}: "${expression}" becomes an EventBridge expression longer than ${EVENTBRIDGE_EXPRESSION_MAX} characters`,
      { field, fix: "use a step (*/5) or a range instead of a long list" },
    );
  }
  return result;
}

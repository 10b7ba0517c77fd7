// Standard 5-field cron (minute hour day-of-month month day-of-week), parsed into value sets.
// kots-backup accepts only the portable subset that both croner (local daemon) and EventBridge
// Scheduler (AWS) can run identically: numbers, names, `*`, lists, ranges and steps; `?` as an alias
// of `*` in the two day fields. Extensions such as `L`, `W`, `#`, `+` and `@daily` are refused.
import { Cron } from "croner";
import { InputError } from "./errors.ts";

export const CronFieldName = {
  minute: "minute",
  hour: "hour",
  dayOfMonth: "dayOfMonth",
  month: "month",
  dayOfWeek: "dayOfWeek",
} as const;
export type CronFieldName = (typeof CronFieldName)[keyof typeof CronFieldName];

export interface CronField {
  /** The field as written. */
  text: string;
  /** Sorted distinct values; day of week uses 0 = Sunday … 6 = Saturday (7 is folded into 0). */
  values: number[];
  /** Written as `*` or `?`: the field does not restrict. */
  unrestricted: boolean;
}

export type CronFields = Record<CronFieldName, CronField>;

interface FieldSpec {
  name: CronFieldName;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELD_SPECS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "dayOfMonth", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "dayOfWeek", min: 0, max: 7, names: DAYS },
];

const FIX =
  "write 5 fields (minute hour day-of-month month day-of-week) using numbers, names, *, lists, ranges and steps, e.g. '30 2 * * *'";

function cronError(field: string, expression: string, problem: string): InputError {
  return new InputError("invalid-cron", `${field}: "${expression}" is not a valid cron: ${problem}`, {
    field,
    fix: FIX,
  });
}

function parseValue(token: string, spec: FieldSpec): number | undefined {
  if (/^\d+$/.test(token)) return Number(token);
  const index = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index < 0) return undefined;
  return spec.name === "month" ? index + 1 : index;
}

function parseItem(item: string, spec: FieldSpec, fail: (problem: string) => never): number[] {
  const [range = "", stepText, extra] = item.split("/");
  if (extra !== undefined) fail(`"${item}" has more than one step`);
  const step = stepText === undefined ? 1 : Number(stepText);
  if (stepText !== undefined && (!/^\d+$/.test(stepText) || step < 1)) fail(`bad step in "${item}"`);
  let low: number;
  let high: number;
  if (range === "*" || range === "?") {
    low = spec.min;
    high = spec.name === "dayOfWeek" ? 6 : spec.max;
  } else {
    const [lowText = "", highText, more] = range.split("-");
    if (more !== undefined) fail(`bad range "${range}"`);
    const lowValue = parseValue(lowText, spec);
    const highValue = highText === undefined ? lowValue : parseValue(highText, spec);
    if (lowValue === undefined || highValue === undefined)
      fail(`"${item}" is not allowed in the ${spec.name} field`);
    if (stepText !== undefined && highText === undefined)
      fail(`"${item}": a step needs * or a range before it`);
    low = lowValue;
    high = highValue;
  }
  if (low < spec.min || high > spec.max || low > high) {
    fail(`"${item}" is outside ${spec.min}-${spec.max} in the ${spec.name} field`);
  }
  const values: number[] = [];
  for (let value = low; value <= high; value += step)
    values.push(spec.name === "dayOfWeek" ? value % 7 : value);
  return values;
}

function parseField(text: string, spec: FieldSpec, fail: (problem: string) => never): CronField {
  if ((text === "?" || text.includes("?")) && spec.name !== "dayOfMonth" && spec.name !== "dayOfWeek") {
    fail(`"?" is only allowed in the day fields`);
  }
  const values = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") fail(`empty list item in "${text}"`);
    for (const value of parseItem(item, spec, fail)) values.add(value);
  }
  return { text, values: [...values].sort((a, b) => a - b), unrestricted: text === "*" || text === "?" };
}

/**
 * Parses and validates a 5-field cron; throws InputError (`invalid-cron`) naming `field`.
 * croner must accept it too, so the daemon and the AWS scheduler never disagree on validity.
 */
export function parseCron(expression: string, field = "cron"): CronFields {
  const fail = (problem: string): never => {
    throw cronError(field, expression, problem);
  };
  const texts = expression.trim().split(/\s+/);
  if (texts.length !== 5 || texts[0] === "")
    fail(`expected 5 fields, found ${expression.trim() === "" ? 0 : texts.length}`);
  const fields = {} as CronFields;
  FIELD_SPECS.forEach((spec, index) => {
    fields[spec.name] = parseField(texts[index] ?? "", spec, fail);
  });
  try {
    new Cron(texts.join(" "), { mode: "5-part", paused: true });
  } catch (error) {
    fail((error as Error).message);
  }
  return fields;
}

/** croner job for a validated cron in `timeZone`; day-of-month and day-of-week combine as in Vixie cron. */
export function cronerFor(expression: string, timeZone: string): Cron {
  return new Cron(expression.trim().split(/\s+/).join(" "), {
    mode: "5-part",
    timezone: timeZone,
    paused: true,
  });
}

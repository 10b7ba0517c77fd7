import { describe, expect, it } from "vitest";
import { InputError } from "./errors.ts";
import { toEventBridgeCron } from "./eventbridge-cron.ts";
import { slotsBetween } from "./schedule.ts";

/** EventBridge Scheduler cron semantics, simply: each field a set; `?` and `*` match all; `a/s` steps to the end. */
function eventBridgeSlots(expression: string, from: Date, to: Date): string[] {
  const inner = /^cron\((.*)\)$/.exec(expression)?.[1];
  if (!inner) throw new Error(`not a cron(): ${expression}`);
  const [mi = "", ho = "", dom = "", mon = "", dow = "", year = ""] = inner.split(" ");
  expect(year).toBe("*");
  expect([dom, dow]).toContain("?");
  const set = (text: string, min: number, max: number): Set<number> => {
    const out = new Set<number>();
    for (const item of text.split(",")) {
      if (item === "*" || item === "?") for (let v = min; v <= max; v++) out.add(v);
      else if (item.includes("/")) {
        const [start = "", step = ""] = item.split("/");
        for (let v = Number(start); v <= max; v += Number(step)) out.add(v);
      } else if (item.includes("-")) {
        const [a = "", b = ""] = item.split("-");
        for (let v = Number(a); v <= Number(b); v++) out.add(v);
      } else out.add(Number(item));
    }
    return out;
  };
  const [minutes, hours, days, months, weekdays] = [
    set(mi, 0, 59),
    set(ho, 0, 23),
    set(dom, 1, 31),
    set(mon, 1, 12),
    set(dow, 1, 7),
  ];
  const slots: string[] = [];
  for (let day = from.getTime(); day < to.getTime(); day += 86_400_000) {
    const d = new Date(day);
    if (!days.has(d.getUTCDate()) || !months.has(d.getUTCMonth() + 1) || !weekdays.has(d.getUTCDay() + 1))
      continue;
    for (const h of [...hours].sort((a, b) => a - b)) {
      for (const m of [...minutes].sort((a, b) => a - b))
        slots.push(new Date(day + h * 3_600_000 + m * 60_000).toISOString());
    }
  }
  return slots;
}

describe("toEventBridgeCron", () => {
  it.each([
    ["30 2 * * *", "cron(30 2 * * ? *)"],
    ["*/15 * * * *", "cron(0/15 * * * ? *)"],
    ["0 * * * *", "cron(0 * * * ? *)"],
    ["0 3 * * 0", "cron(0 3 ? * 1 *)"],
    ["0 3 * * 7", "cron(0 3 ? * 1 *)"],
    ["0 3 * * MON-FRI", "cron(0 3 ? * 2-6 *)"],
    ["0 3 * * 5-7", "cron(0 3 ? * 1,6,7 *)"],
    ["0 0 1 * *", "cron(0 0 1 * ? *)"],
    ["0 0 1 JAN,JUL *", "cron(0 0 1 1,7 ? *)"],
    ["5-10 */6 * * *", "cron(5-10 0/6 * * ? *)"],
    ["0 0 * * ?", "cron(0 0 * * ? *)"],
  ])("converts %s to %s", (cron, expected) => {
    expect(toEventBridgeCron(cron)).toBe(expected);
  });

  it("refuses a cron restricting both day fields, since cron ORs them and EventBridge cannot", () => {
    expect(() => toEventBridgeCron("0 0 1 * MON", "schedules[0].cron")).toThrow(InputError);
    try {
      toEventBridgeCron("0 0 1 * MON", "schedules[0].cron");
    } catch (error) {
      expect((error as InputError).code).toBe("cron-not-portable");
      expect((error as InputError).field).toBe("schedules[0].cron");
    }
  });

  it.each(["0 0 L * *", "0 0 * * MON#1", "@daily", "0 0 * *", "60 0 * * *", "0 0 15W * *", "0 0 * * +MON"])(
    "refuses the non-portable or invalid cron %s",
    (cron) => {
      expect(() => toEventBridgeCron(cron)).toThrow(InputError);
    },
  );

  const corpus = [
    "30 2 * * *",
    "*/15 * * * *",
    "0 * * * *",
    "0 */6 * * *",
    "7 1-5 * * *",
    "0 3 * * 0",
    "0 3 * * 7",
    "0 3 * * MON-FRI",
    "0 3 * * 5-7",
    "0 3 * * */2",
    "0 0 1 * *",
    "0 0 */2 * *",
    "0 0 1,15 * *",
    "0 12 * JAN,JUL *",
    "15,45 8-18/2 * * 1-5",
    "0 0 29 2 *",
    "0 0 31 * *",
    "59 23 * * 6",
    "5-10 4 1-7 * *",
  ];

  it.each(corpus)("fires %s at the same instants in EventBridge as croner over 2026 (UTC)", (cron) => {
    const from = new Date("2026-01-01T00:00:00Z");
    const to = new Date("2027-01-01T00:00:00Z");
    const expected = slotsBetween({ cron }, from, to).map((d) => d.toISOString());
    expect(eventBridgeSlots(toEventBridgeCron(cron), from, to)).toEqual(expected);
  });
});

import { describe, expect, it } from "vitest";
import { hasOnly } from "./stored-json.ts";

const isString = (v: unknown) => typeof v === "string";

describe("hasOnly", () => {
  it("accepts exactly the required fields plus known optional ones", () => {
    expect(hasOnly({ schedule: "a" }, { schedule: isString }, { reason: isString })).toBe(true);
    expect(hasOnly({ schedule: "a", reason: "r" }, { schedule: isString }, { reason: isString })).toBe(true);
  });

  it("refuses unknown fields, including names every object inherits such as constructor", () => {
    expect(hasOnly({ schedule: "a", surprise: 1 }, { schedule: isString }, {})).toBe(false);
    expect(hasOnly(JSON.parse('{"schedule":"a","constructor":1}'), { schedule: isString }, {})).toBe(false);
    expect(hasOnly(JSON.parse('{"schedule":"a","toString":"x"}'), { schedule: isString }, {})).toBe(false);
  });

  it("refuses a missing or ill-typed required field, and non-objects", () => {
    expect(hasOnly({}, { schedule: isString }, {})).toBe(false);
    expect(hasOnly({ schedule: 1 }, { schedule: isString }, {})).toBe(false);
    expect(hasOnly(["a"], { schedule: isString }, {})).toBe(false);
    expect(hasOnly(null, { schedule: isString }, {})).toBe(false);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planRetention, type RetainedExport } from "./retention.ts";

const full = (backup: string, day: number, verified = true): RetainedExport => ({
  backup,
  type: "full",
  completedAt: new Date(Date.UTC(2026, 5, day)).toISOString(),
  verified,
});

describe("planRetention", () => {
  it("keeps the newest N verified exports and makes older ones expirable", () => {
    const plan = planRetention([full("d1", 1), full("d2", 2), full("d3", 3), full("d4", 4)], 3);
    expect(plan).toEqual({ keep: ["d4", "d3", "d2"], expirable: ["d1"] });
  });

  it("never makes an unverified export expirable, nor counts it toward keepLast", () => {
    const plan = planRetention([full("d1", 1), full("d2", 2), full("d3", 3, false)], 1);
    expect(plan.expirable).toEqual(["d1"]);
    expect(plan.keep.sort()).toEqual(["d2", "d3"]);
  });

  it("keeps the newest N of each kind, so frequent app backups cannot push out full ones", () => {
    const app = (backup: string, day: number): RetainedExport => ({
      ...full(backup, day),
      type: "partial",
      app: "my-app",
    });
    const plan = planRetention([full("f1", 1), app("a2", 2), app("a3", 3), app("a4", 4)], 2);
    expect(plan.keep.sort()).toEqual(["a3", "a4", "f1"]);
    expect(plan.expirable).toEqual(["a2"]);
  });

  it("never makes any of the newest keepLast verified exports expirable", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 28 }), fc.boolean()), { maxLength: 20 }),
        fc.integer({ min: 1, max: 5 }),
        (specs, keepLast) => {
          const exports = specs.map(([day, verified], i) => full(`b${i}`, day, verified));
          const plan = planRetention(exports, keepLast);
          const newest = exports
            .filter((e) => e.verified)
            .sort(
              (a, b) =>
                Date.parse(b.completedAt) - Date.parse(a.completedAt) || (a.backup < b.backup ? 1 : -1),
            )
            .slice(0, keepLast)
            .map((e) => e.backup);
          for (const name of newest) expect(plan.expirable).not.toContain(name);
          expect(plan.keep.length + plan.expirable.length).toBe(exports.length);
        },
      ),
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ExportManifest } from "./export-layout.ts";
import { expirableExports, planRetention, type RetainedExport } from "./retention.ts";

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

describe("expirableExports", () => {
  const manifest = (backup: string, fields: Partial<ExportManifest> = {}): ExportManifest => ({
    formatVersion: 1,
    backup,
    type: "full",
    scope: "full",
    volumeData: "included",
    source: { cluster: "prod" },
    phase: "Completed",
    partiallyFailed: false,
    exportStartedAt: "2026-06-01T00:00:00.000Z",
    exportedAt: "2026-06-01T00:00:00.000Z",
    objects: [
      { key: `velero/backups/${backup}/${backup}.tar.gz`, size: 1, sha256: "a".repeat(64) },
      { key: "velero/kopia/ns/shared-blob", size: 1, sha256: "b".repeat(64) },
      { key: `velero/backups/${backup}/velero-backup.json`, size: 1, sha256: "c".repeat(64) },
    ],
    totals: { objects: 3, bytes: 3 },
    ...fields,
  });

  it("tags the backup's own objects and its manifest, never the shared repository blobs", () => {
    const expirable = expirableExports(
      [
        manifest("old", { completedAt: "2026-05-01T00:00:00.000Z" }),
        manifest("new", { completedAt: "2026-05-02T00:00:00.000Z" }),
      ],
      1,
    );
    expect(expirable).toEqual([
      {
        backup: "old",
        objectKeys: ["velero/backups/old/old.tar.gz", "velero/backups/old/velero-backup.json"],
        manifestKey: "manifests/old.json",
      },
    ]);
  });

  it("orders by the backup's completion, else by when it was exported, per kind", () => {
    const expirable = expirableExports(
      [
        manifest("undated", { exportedAt: "2026-05-03T00:00:00.000Z" }),
        manifest("dated", { completedAt: "2026-05-02T00:00:00.000Z" }),
        manifest("app-old", { type: "partial", app: "a", completedAt: "2026-01-01T00:00:00.000Z" }),
      ],
      1,
    );
    expect(expirable.map((e) => e.backup)).toEqual(["dated"]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ExportManifest } from "./export-layout.ts";
import {
  expirableConfigArchives,
  expirableExports,
  planRetention,
  type RetainedExport,
  type StoredConfigArchive,
} from "./retention.ts";

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

describe("expirableExports", () => {
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

describe("expirableConfigArchives", () => {
  const at = (hour: number) => new Date(Date.UTC(2026, 5, 1, hour));
  const archive = (key: string, hour?: number): StoredConfigArchive =>
    hour === undefined ? { key } : { key, savedAt: at(hour) };

  it("per app, tags the archives older than the newest keepLast saved", () => {
    const archives = [
      archive("config/my-app/manual-20260601T010000Z.tar.gz", 1),
      archive("config/my-app/manual-20260601T020000Z.tar.gz", 2),
      archive("config/my-app/manual-20260601T030000Z.tar.gz", 3),
      archive("config/other-app/manual-20260601T000000Z.tar.gz", 0),
    ];
    expect(expirableConfigArchives(archives, [], 2)).toEqual([
      "config/my-app/manual-20260601T010000Z.tar.gz",
    ]);
  });

  it("never tags the archive of an export retention keeps, however many newer archives exist", () => {
    const manifests = [
      manifest("instance-full1", { completedAt: at(1).toISOString() }),
      manifest("my-app-a1", { type: "partial", app: "my-app", completedAt: at(2).toISOString() }),
      manifest("my-app-a2", { type: "partial", app: "my-app", completedAt: at(3).toISOString() }),
      manifest("my-app-a3", { type: "partial", app: "my-app", completedAt: at(4).toISOString() }),
    ];
    const archives = [
      archive("config/my-app/instance-full1.tar.gz", 1),
      archive("config/my-app/my-app-a1.tar.gz", 2),
      archive("config/my-app/my-app-a2.tar.gz", 3),
      archive("config/my-app/my-app-a3.tar.gz", 4),
    ];
    // Kept exports: instance-full1 (the only full one), my-app-a3 (newest partial).
    expect(expirableConfigArchives(archives, manifests, 1).sort()).toEqual([
      "config/my-app/my-app-a1.tar.gz",
      "config/my-app/my-app-a2.tar.gz",
    ]);
  });

  it("orders by when the archive was saved, not by its name; keepLast below 1 keeps one", () => {
    const archives = [archive("config/my-app/zzz.tar.gz", 1), archive("config/my-app/aaa.tar.gz", 2)];
    expect(expirableConfigArchives(archives, [], 0)).toEqual(["config/my-app/zzz.tar.gz"]);
  });

  it("never tags an archive of unknown age, nor a key that is not a config archive", () => {
    const archives = [
      archive("config/my-app/undated.tar.gz"),
      archive("config/my-app/notes.txt", 0),
      archive("config/my-app/new.tar.gz", 5),
    ];
    expect(expirableConfigArchives(archives, [], 1)).toEqual([]);
  });

  it("never tags any of an app's newest keepLast archives, nor a kept export's", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b"), fc.integer({ min: 0, max: 23 })), { maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        (specs, keepLast) => {
          const archives = specs.map(([app, hour], i) => archive(`config/${app}/b${i}.tar.gz`, hour));
          const manifests = specs.map(([, hour], i) =>
            manifest(`b${i}`, { completedAt: at((hour * 7) % 24).toISOString() }),
          );
          const expirable = expirableConfigArchives(archives, manifests, keepLast);
          const kept = planRetention(
            manifests.map((m) => ({ ...m, completedAt: m.completedAt ?? "", verified: true })),
            keepLast,
          ).keep;
          for (const app of ["a", "b"]) {
            const newest = archives
              .filter((a) => a.key.startsWith(`config/${app}/`))
              .sort((x, y) => Number(y.savedAt) - Number(x.savedAt) || (x.key < y.key ? 1 : -1))
              .slice(0, keepLast);
            for (const a of newest) expect(expirable).not.toContain(a.key);
          }
          for (const backup of kept) expect(expirable.some((key) => key.includes(`/${backup}.`))).toBe(false);
          expect(new Set(expirable).size).toBe(expirable.length);
        },
      ),
    );
  });
});

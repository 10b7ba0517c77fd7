import { describe, expect, it } from "vitest";
import { parseManifest } from "../export-layout.ts";
import { aBackup } from "../testing.ts";
import { appIdOf, buildManifest, isExportOf, type ManifestInput, manifestConflict } from "./manifest.ts";

const sha = (c: string) => c.repeat(64);
const started = new Date("2026-06-01T10:00:00Z");
const done = new Date("2026-06-01T10:05:00Z");

const input = (fields: Partial<ManifestInput> = {}): ManifestInput => ({
  backup: aBackup("b1")
    .instance()
    .phase("Completed")
    .requestedAt("2026-06-01T09:00:00+02:00")
    .completedAt("2026-06-01T08:30:00Z")
    .build(),
  scope: "full",
  cluster: "prod",
  objects: [
    { key: "velero/kopia/ns/p1", size: 7, sha256: sha("a") },
    { key: "velero/backups/b1/velero-backup.json", size: 5, sha256: sha("b") },
    { key: "velero/backups/b1/b1.tar.gz", size: 100, sha256: sha("c") },
  ],
  skipped: [],
  exportStartedAt: started,
  exportedAt: done,
  ...fields,
});

describe("buildManifest", () => {
  it("lists the verified objects by key with their totals, and the backup's kind, phase and times", () => {
    const manifest = buildManifest(
      input({ veleroNamespace: "velero", bsl: { name: "default", location: "s3://b/p" } }),
    );
    expect(manifest.objects.map((o) => o.key)).toEqual([
      "velero/backups/b1/b1.tar.gz",
      "velero/backups/b1/velero-backup.json",
      "velero/kopia/ns/p1",
    ]);
    expect(manifest).toMatchObject({
      formatVersion: 1,
      backup: "b1",
      type: "full",
      scope: "full",
      volumeData: "included",
      source: { cluster: "prod", veleroNamespace: "velero", bsl: "default", location: "s3://b/p" },
      phase: "Completed",
      partiallyFailed: false,
      requestedAt: "2026-06-01T07:00:00.000Z",
      completedAt: "2026-06-01T08:30:00.000Z",
      exportStartedAt: started.toISOString(),
      exportedAt: done.toISOString(),
      totals: { objects: 3, bytes: 112 },
    });
    expect(manifest).not.toHaveProperty("app");
    expect(manifest).not.toHaveProperty("skipped");
    expect(manifest).not.toHaveProperty("startedAt");
    expect(parseManifest(JSON.parse(JSON.stringify(manifest)))).toEqual(manifest);
  });

  it("says volume data is absent in manifests scope, and names an app backup's app and skipped objects", () => {
    const backup = aBackup("b2").app("app-id-1").phase("PartiallyFailed").build();
    backup.spec = { storageLocation: "secondary" };
    const manifest = buildManifest(
      input({ backup, scope: "manifests", app: "my-app", skipped: [{ key: "kopia/x", reason: "too long" }] }),
    );
    expect(manifest).toMatchObject({
      type: "partial",
      app: "my-app",
      volumeData: "absent",
      partiallyFailed: true,
      source: { cluster: "prod", bsl: "secondary" },
      skipped: [{ key: "kopia/x", reason: "too long" }],
    });
    expect(buildManifest(input({ backup: aBackup("b3").build() })).source.bsl).toBe("default");
  });

  it("refuses to build a manifest the reader would refuse", () => {
    expect(() =>
      buildManifest(input({ objects: [{ key: "velero/x", size: 1, sha256: "not-hex" }] })),
    ).toThrow(expect.objectContaining({ code: "invalid-manifest", field: "objects.0.sha256" }));
  });
});

describe("appIdOf", () => {
  it("names the app of an app backup only", () => {
    expect(appIdOf(aBackup("a").app("id-1").build())).toBe("id-1");
    expect(appIdOf(aBackup("i").instance().app("id-1").build())).toBeUndefined();
    expect(appIdOf(aBackup("p").build())).toBeUndefined();
  });
});

describe("manifestConflict", () => {
  const ours = buildManifest(input());
  it("tells our own stored manifest, another run's, and anything else apart", () => {
    expect(manifestConflict(ours, parseManifest(JSON.parse(JSON.stringify(ours))))).toBe("ours");
    const theirs = buildManifest(input({ exportedAt: new Date("2026-06-01T10:06:00Z") }));
    expect(manifestConflict(ours, theirs)).toBe("theirs");
    const other = buildManifest(input({ backup: aBackup("b9").instance().build() }));
    expect(manifestConflict(ours, other)).toBe("refused");
    expect(manifestConflict(ours, undefined)).toBe("refused");
  });

  it("a manifest vouches for its own backup only", () => {
    expect(isExportOf(ours, "b1")).toBe(true);
    expect(isExportOf(ours, "b10")).toBe(false);
    expect(isExportOf(undefined, "b1")).toBe(false);
  });
});

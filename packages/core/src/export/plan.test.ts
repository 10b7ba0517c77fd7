import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ObjectInfo } from "../ports.ts";
import { aBackup } from "../testing.ts";
import {
  backupDocument,
  fullScopeProbe,
  fullScopeSources,
  planFullScope,
  planManifestsScope,
  withdrawalOrder,
} from "./plan.ts";

const info = (key: string, size = 10): ObjectInfo => ({ key, size, etag: `"${key.length}"` });
const backupListing = (name: string) => [
  info(`backups/${name}/${name}-logs.gz`, 3),
  info(`backups/${name}/${name}.tar.gz`, 100),
  info(`backups/${name}/velero-backup.json`, 5),
];
const copyable = () => undefined;

describe("planFullScope", () => {
  it("writes the repository blobs first, then the backup's objects, velero-backup.json alone after", () => {
    const plan = planFullScope(
      "b1",
      { backup: backupListing("b1"), repositories: [info("kopia/ns/p1", 7), info("restic/ns/data/x", 8)] },
      copyable,
    );
    expect(plan.objects.map((o) => o.destKey)).toEqual([
      "velero/kopia/ns/p1",
      "velero/restic/ns/data/x",
      "velero/backups/b1/b1-logs.gz",
      "velero/backups/b1/b1.tar.gz",
    ]);
    expect(plan.objects[0]).toMatchObject({
      from: "bsl",
      sourceKey: "kopia/ns/p1",
      repository: { sourceEtag: '"11"' },
    });
    expect(plan.objects[2]).not.toHaveProperty("repository");
    expect(plan.veleroBackup).toEqual({
      from: "bsl",
      sourceKey: "backups/b1/velero-backup.json",
      destKey: "velero/backups/b1/velero-backup.json",
      size: 5,
    });
    expect(plan).toMatchObject({ scope: "full", skipped: [], totalObjects: 5, totalBytes: 123 });
  });

  it("never puts velero-backup.json among the objects written before it, and the repositories lead", () => {
    const key = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    fc.assert(
      fc.property(fc.uniqueArray(key), fc.uniqueArray(key), (own, blobs) => {
        const plan = planFullScope(
          "b2",
          {
            backup: [...backupListing("b2"), ...own.map((k) => info(`backups/b2/x-${k}`))],
            repositories: blobs.map((k) => info(`kopia/ns/${k}`)),
          },
          copyable,
        );
        const keys = plan.objects.map((o) => o.destKey);
        expect(keys).not.toContain("velero/backups/b2/velero-backup.json");
        const firstOwn = keys.findIndex((k) => k.startsWith("velero/backups/"));
        expect(keys.slice(0, firstOwn).every((k) => k.startsWith("velero/kopia/"))).toBe(true);
        expect(keys.slice(firstOwn).every((k) => k.startsWith("velero/backups/b2/"))).toBe(true);
        expect(plan.totalObjects).toBe(keys.length + 1);
      }),
    );
  });

  it("skips a repository object whose key cannot be copied, saying why", () => {
    const plan = planFullScope(
      "b3",
      { backup: backupListing("b3"), repositories: [info("kopia/ns/ok"), info("kopia/ns/too-long")] },
      (sourceKey) => (sourceKey.endsWith("too-long") ? "name too long" : undefined),
    );
    expect(plan.skipped).toEqual([{ key: "kopia/ns/too-long", reason: "name too long" }]);
    expect(plan.objects.map((o) => o.destKey)).not.toContain("velero/kopia/ns/too-long");
    expect(plan.totalObjects).toBe(4);
  });

  it("fails before any write when one of the backup's own objects cannot be copied", () => {
    expect(() =>
      planFullScope("b4", { backup: backupListing("b4"), repositories: [] }, (sourceKey, destKey) =>
        sourceKey.endsWith("-logs.gz") ? `cannot store ${destKey}` : undefined,
      ),
    ).toThrow(
      expect.objectContaining({
        code: "source-key-invalid",
        message: expect.stringContaining("cannot store velero/backups/b4/b4-logs.gz"),
      }),
    );
  });

  it("refuses a backup without velero-backup.json or without its tarball", () => {
    const without = (suffix: string) => backupListing("b5").filter((o) => !o.key.endsWith(suffix));
    for (const suffix of ["velero-backup.json", "b5.tar.gz"]) {
      expect(() => planFullScope("b5", { backup: without(suffix), repositories: [] }, copyable)).toThrow(
        expect.objectContaining({ code: "backup-incomplete" }),
      );
    }
  });

  it("refuses to write outside Velero's folders", () => {
    expect(() =>
      planFullScope("b6", { backup: backupListing("b6"), repositories: [info("plugins2/x")] }, copyable),
    ).toThrow(expect.objectContaining({ code: "export-layout" }));
  });
});

describe("planManifestsScope", () => {
  it("downloads the four files, then writes velero-backup.json from the API", () => {
    const plan = planManifestsScope("b7");
    expect(plan.objects).toEqual([
      { from: "download", kind: "BackupContents", destKey: "velero/backups/b7/b7.tar.gz" },
      { from: "download", kind: "BackupLog", destKey: "velero/backups/b7/b7-logs.gz" },
      { from: "download", kind: "BackupResults", destKey: "velero/backups/b7/b7-results.gz" },
      { from: "download", kind: "BackupResourceList", destKey: "velero/backups/b7/b7-resource-list.json.gz" },
    ]);
    expect(plan.veleroBackup).toEqual({ from: "api", destKey: "velero/backups/b7/velero-backup.json" });
    expect(plan.totalObjects).toBe(5);
    expect(plan.totalBytes).toBeUndefined();
  });
});

describe("the source of the full scope", () => {
  it("lists the backup's folder and the repositories, and probes velero-backup.json", () => {
    expect(fullScopeSources("b8")).toEqual({ backup: "backups/b8/", repositories: ["kopia/", "restic/"] });
    expect(fullScopeProbe("b8")).toBe("backups/b8/velero-backup.json");
    expect(() => fullScopeSources("../x")).toThrow(expect.objectContaining({ code: "invalid-name" }));
  });
});

describe("withdrawalOrder", () => {
  it("removes velero-backup.json first, then the backup's objects written, never a repository blob", () => {
    expect(
      withdrawalOrder("b9", [
        "velero/kopia/ns/blob",
        "velero/backups/b9/b9.tar.gz",
        "velero/backups/b9/velero-backup.json",
        "velero/backups/b9/b9-logs.gz",
        "velero/backups/b90/b90.tar.gz",
      ]),
    ).toEqual([
      "velero/backups/b9/velero-backup.json",
      "velero/backups/b9/b9.tar.gz",
      "velero/backups/b9/b9-logs.gz",
    ]);
    expect(withdrawalOrder("b9", [])).toEqual(["velero/backups/b9/velero-backup.json"]);
  });
});

describe("backupDocument", () => {
  it("is the Backup as Velero persists it: without managedFields", () => {
    const backup = aBackup("b10").phase("Completed").build();
    (backup.metadata as Record<string, unknown>).managedFields = [{ manager: "velero" }];
    const document = backupDocument(backup) as { apiVersion: string; kind: string; metadata: object };
    expect(document.apiVersion).toBe("velero.io/v1");
    expect(document.kind).toBe("Backup");
    expect(document.metadata).not.toHaveProperty("managedFields");
    expect(backup.metadata).toHaveProperty("managedFields");
  });
});

import { describe, expect, it } from "vitest";
import { InputError } from "./errors.ts";
import {
  alertStateKey,
  backupNameOfManifestKey,
  claimKey,
  configArchiveOfKey,
  configKey,
  isAllowedKey,
  isValidVeleroTopLevel,
  manifestKey,
  manualConfigKey,
  parseManifest,
  silenceKey,
  VELERO_TOP_LEVEL,
  veleroBackupKeys,
  veleroBackupPrefix,
} from "./export-layout.ts";

describe("export layout", () => {
  it("places every artefact under its own folder", () => {
    expect(veleroBackupPrefix("instance-abcde")).toBe("velero/backups/instance-abcde/");
    expect(veleroBackupKeys("instance-abcde").contents).toBe(
      "velero/backups/instance-abcde/instance-abcde.tar.gz",
    );
    expect(manifestKey("instance-abcde")).toBe("manifests/instance-abcde.json");
    expect(configKey("my-app", "instance-abcde")).toBe("config/my-app/instance-abcde.tar.gz");
    expect(manualConfigKey("my-app", new Date("2026-06-01T02:30:05.123Z"))).toBe(
      "config/my-app/manual-20260601T023005Z.tar.gz",
    );
    expect(claimKey("nightly", new Date("2026-06-01T02:30:00Z"))).toBe(
      "state/claims/nightly/2026-06-01T02:30:00Z.json",
    );
    expect(alertStateKey("nightly")).toBe("state/alerts/nightly.json");
    expect(silenceKey("nightly")).toBe("state/silences/nightly.json");
  });

  it("reads the backup name back from a manifest key", () => {
    expect(backupNameOfManifestKey(manifestKey("instance-abcde"))).toBe("instance-abcde");
    expect(backupNameOfManifestKey("config/x.json")).toBeUndefined();
  });

  it("reads the app and archive name back from a config archive key", () => {
    expect(configArchiveOfKey(configKey("my-app", "instance-abcde"))).toEqual({
      app: "my-app",
      name: "instance-abcde",
    });
    expect(configArchiveOfKey(manualConfigKey("my-app", new Date("2026-06-01T02:30:05Z")))).toEqual({
      app: "my-app",
      name: "manual-20260601T023005Z",
    });
    expect(configArchiveOfKey("config/my-app/notes.txt")).toBeUndefined();
    expect(configArchiveOfKey("config/my-app/sub/x.tar.gz")).toBeUndefined();
  });

  it("allows only Velero's six top-level folders under velero/", () => {
    expect(VELERO_TOP_LEVEL).toEqual(["backups", "restores", "restic", "kopia", "metadata", "plugins"]);
    expect(isValidVeleroTopLevel("kopia")).toBe(true);
    expect(isValidVeleroTopLevel("manifests")).toBe(false);
    expect(isAllowedKey("velero/kopia/default/kopia.repository")).toBe(true);
    expect(isAllowedKey("velero/manifest.json")).toBe(false);
    expect(isAllowedKey("velero/exports/x")).toBe(false);
    expect(isAllowedKey("manifests/x.json")).toBe(true);
  });

  it.each(["../etc", "Instance", "a/b", ""])("refuses the unsafe name %j in a key", (name) => {
    expect(() => manifestKey(name)).toThrow(InputError);
  });

  it("validates an export manifest and names the bad field", () => {
    const manifest = {
      formatVersion: 1,
      backup: "instance-abcde",
      type: "full",
      scope: "manifests",
      volumeData: "absent",
      source: { cluster: "prod-eu" },
      phase: "Completed",
      partiallyFailed: false,
      exportStartedAt: "2026-06-01T02:41:00Z",
      exportedAt: "2026-06-01T02:42:00Z",
      objects: [
        { key: "velero/backups/instance-abcde/velero-backup.json", size: 10, sha256: "a".repeat(64) },
      ],
      totals: { objects: 1, bytes: 10 },
    };
    expect(parseManifest(manifest).backup).toBe("instance-abcde");
    expect(() => parseManifest({ ...manifest, objects: [{ key: "k", size: 1, sha256: "zz" }] })).toThrow(
      /objects\.0\.sha256/,
    );
  });
});

import { describe, expect, it } from "vitest";
import {
  isAppBackup,
  isFutureDated,
  isInstanceBackup,
  isKotsadmInstanceBackup,
  listBackups,
  requestedWithin,
  rollupStatus,
} from "./backups.ts";
import { aBackup, aSummary } from "./testing.ts";

const apps = [{ id: "app-1", slug: "my-app" }];

describe("backup filters (kubectl kots get backups)", () => {
  it("counts a legacy instance backup of this kotsadm", () => {
    const b = aBackup("instance-abcde").instance("kots").build();
    expect(isInstanceBackup(b)).toBe(true);
    expect(isKotsadmInstanceBackup(b, "kots")).toBe(true);
  });

  it("ignores an instance backup of another kotsadm namespace", () => {
    expect(isKotsadmInstanceBackup(aBackup("instance-x").instance("other").build(), "kots")).toBe(false);
  });

  it("counts an improved-DR backup by its disaster-recovery-version annotation alone", () => {
    expect(isInstanceBackup(aBackup("instance-x").drPair("instance-1a2b3c4d", "infra").build())).toBe(true);
  });

  it('ignores kots.io/instance values other than "true"', () => {
    expect(isInstanceBackup(aBackup("x").annotate({ "kots.io/instance": "false" }).build())).toBe(false);
  });

  it("recognises an app backup only for a known app id", () => {
    const b = aBackup("my-app-abcde").app("app-1").build();
    expect(isAppBackup(b, new Set(["app-1"]))).toBe(true);
    expect(isAppBackup(b, new Set(["app-2"]))).toBe(false);
  });
});

describe("listBackups", () => {
  const t = (h: number) => new Date(Date.UTC(2026, 5, 10, h)).toISOString();

  it("lists instance and app backups newest first, without other Velero users' backups", () => {
    const list = listBackups(
      [
        aBackup("instance-old").instance().requestedAt(t(1)).phase("Completed").build(),
        aBackup("my-app-new").app("app-1").requestedAt(t(3)).phase("InProgress").build(),
        aBackup("instance-mid").instance().requestedAt(t(2)).phase("PartiallyFailed").counts(2, 1).build(),
        aBackup("daily-20260610").requestedAt(t(4)).phase("Completed").build(),
      ],
      { kotsadmNamespace: "default", apps },
    );
    expect(list.map((b) => [b.name, b.type, b.app, b.status])).toEqual([
      ["my-app-new", "partial", "my-app", "InProgress"],
      ["instance-mid", "full", undefined, "Failed"],
      ["instance-old", "full", undefined, "Completed"],
    ]);
    expect(list[1]).toMatchObject({ errors: 2, warnings: 1, phase: "PartiallyFailed" });
  });

  it("shows an empty phase as New, in progress", () => {
    const [b] = listBackups([aBackup("instance-a").instance().build()], { kotsadmNamespace: "default" });
    expect(b).toMatchObject({ phase: "New", status: "InProgress", trigger: "manual" });
  });

  it("marks kotsadm-scheduled backups and those kots-backup claimed as scheduled", () => {
    const list = listBackups(
      [
        aBackup("instance-a").instance().scheduled().requestedAt(t(1)).build(),
        aBackup("instance-b").instance().requestedAt(t(2)).build(),
        aBackup("instance-c").instance().requestedAt(t(3)).build(),
      ],
      {
        kotsadmNamespace: "default",
        claims: [
          { schedule: "nightly", slot: t(2), claimedAt: t(2), backup: "instance-b", outcome: "started" },
        ],
      },
    );
    expect(list.map((b) => [b.name, b.trigger, b.schedule])).toEqual([
      ["instance-c", "manual", undefined],
      ["instance-b", "schedule", "nightly"],
      ["instance-a", "schedule", undefined],
    ]);
  });

  it("rolls an improved-DR pair up into one entry named by its backup-name label", () => {
    const [pair, ...rest] = listBackups(
      [
        aBackup("instance-x1")
          .drPair("instance-1a2b3c4d", "infra")
          .requestedAt(t(1))
          .startedAt(t(1))
          .completedAt(t(2))
          .phase("Completed")
          .counts(0, 1)
          .build(),
        aBackup("application-y2")
          .drPair("instance-1a2b3c4d", "app")
          .requestedAt(t(1))
          .startedAt(t(2))
          .completedAt(t(3))
          .phase("Completed")
          .counts(0, 2)
          .build(),
      ],
      { kotsadmNamespace: "default" },
    );
    expect(rest).toEqual([]);
    expect(pair).toMatchObject({
      name: "instance-1a2b3c4d",
      type: "full",
      phase: "Completed",
      status: "Completed",
      startedAt: "2026-06-10T01:00:00Z",
      completedAt: "2026-06-10T03:00:00Z",
      warnings: 3,
    });
  });

  it("reports a pair with a member missing as Failed", () => {
    const [pair] = listBackups(
      [
        aBackup("instance-x1")
          .drPair("instance-1a2b3c4d", "infra")
          .phase("Completed")
          .completedAt(t(2))
          .build(),
      ],
      { kotsadmNamespace: "default" },
    );
    expect(pair?.status).toBe("Failed");
  });

  it("shows a pair's worst phase and no completion time while a member still runs", () => {
    const [pair] = listBackups(
      [
        aBackup("instance-x1").drPair("p", "infra").phase("Completed").completedAt(t(2)).build(),
        aBackup("application-y2").drPair("p", "app").phase("InProgress").build(),
      ],
      { kotsadmNamespace: "default" },
    );
    expect(pair).toMatchObject({ phase: "InProgress", status: "InProgress" });
    expect(pair?.completedAt).toBeUndefined();
  });

  it("filters to one app's backups with the app option", () => {
    const list = listBackups(
      [
        aBackup("instance-a").instance().build(),
        aBackup("my-app-a").app("app-1").build(),
        aBackup("other-a").app("app-2").build(),
      ],
      { kotsadmNamespace: "default", apps: [...apps, { id: "app-2", slug: "other" }], app: "my-app" },
    );
    expect(list.map((b) => b.name)).toEqual(["my-app-a"]);
  });
});

describe("rollupStatus", () => {
  it("prefers Failed, then InProgress, then Deleting, then Completed", () => {
    expect(rollupStatus(["Completed", "InProgress", "Failed"])).toBe("Failed");
    expect(rollupStatus(["Completed", "Deleting", "InProgress"])).toBe("InProgress");
    expect(rollupStatus(["Completed", "Deleting"])).toBe("Deleting");
    expect(rollupStatus(["Completed", "Completed"])).toBe("Completed");
  });
});

describe("times from the cluster's clock", () => {
  const now = new Date("2026-06-10T12:00:00Z");
  const slot = new Date("2026-06-10T02:00:00Z");
  const requested = (t: string) => aBackup("instance-a").instance().requestedAt(t).build();

  it("a slot adopts only a backup requested between the slot and now + 5 min of clock skew", () => {
    expect(requestedWithin(requested("2026-06-10T01:59:59Z"), slot, now)).toBe(false);
    expect(requestedWithin(requested("2026-06-10T02:00:00Z"), slot, now)).toBe(true);
    expect(requestedWithin(requested("2026-06-10T12:05:00Z"), slot, now)).toBe(true);
    expect(requestedWithin(requested("2026-06-10T12:05:01Z"), slot, now)).toBe(false);
    expect(requestedWithin(requested("2099-01-01T00:00:00Z"), slot, now)).toBe(false);
  });

  it("a creation time in the future is not a request either, nor is a request with no date", () => {
    const created = aBackup("instance-b").instance().build();
    expect(requestedWithin(created, slot, now)).toBe(false);
    created.metadata.creationTimestamp = "2099-01-01T00:00:00Z";
    expect(requestedWithin(created, slot, now)).toBe(false);
  });

  it("an ls entry is future-dated when any of its times lies beyond now + 5 min", () => {
    const entry = (field: string, t: string) => aSummary("instance-c", { [field]: t });
    for (const field of ["requestedAt", "startedAt", "completedAt"]) {
      expect(isFutureDated(entry(field, "2026-06-10T12:05:00Z"), now)).toBe(false);
      expect(isFutureDated(entry(field, "2026-06-10T12:05:01Z"), now)).toBe(true);
    }
    // Expiry is meant to be in the future.
    expect(isFutureDated(entry("expiresAt", "2099-01-01T00:00:00Z"), now)).toBe(false);
  });
});

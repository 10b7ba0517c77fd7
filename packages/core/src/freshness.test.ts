import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BackupSummary } from "./backups.ts";
import {
  type CheckSchedule,
  type ExportRecord,
  evaluateCheck,
  evaluateChecks,
  type FreshnessInput,
} from "./freshness.ts";
import { slotsBetween } from "./schedule.ts";
import { aSummary } from "./testing.ts";

const H = 3_600_000;
const nightly: CheckSchedule = {
  name: "nightly",
  cron: "30 2 * * *",
  timezone: "UTC",
  type: "full",
  grace: H,
  maxDuration: 4 * H,
  export: true,
  exportGrace: 2 * H,
  paused: false,
};
const FIRST_SEEN = "2026-06-01T00:00:00Z";

function check(
  now: string,
  backups: BackupSummary[] = [],
  extra: Partial<FreshnessInput> & { schedule?: Partial<CheckSchedule> } = {},
) {
  const { schedule, ...rest } = extra;
  return evaluateCheck(
    { ...nightly, ...schedule },
    {
      schedules: [],
      backups,
      clusterReachable: true,
      firstSeenAt: { nightly: FIRST_SEEN },
      now: new Date(now),
      ...rest,
    },
  );
}

const done = (name: string, requestedAt: string, completedAt: string, fields: Partial<BackupSummary> = {}) =>
  aSummary(name, { requestedAt, startedAt: requestedAt, completedAt, ...fields });
const exported = (backup: string, exportedAt: string, verified = true): ExportRecord => ({
  backup,
  exportedAt,
  verified,
});

describe("a new schedule with no backups (daily 02:30 UTC, grace 1h, first seen 2026-06-01T00:00Z)", () => {
  it("is new one second before its first slot", () => {
    expect(check("2026-06-01T02:29:59Z")).toMatchObject({
      state: "new",
      reasons: [],
      since: FIRST_SEEN,
      expectedBy: "2026-06-01T03:30:00Z",
    });
  });

  it("is in grace at the slot", () => {
    expect(check("2026-06-01T02:30:00Z")).toMatchObject({
      state: "grace",
      reasons: [],
      since: "2026-06-01T02:30:00Z",
    });
  });

  it("is still in grace one second before the end of grace", () => {
    expect(check("2026-06-01T03:29:59Z").state).toBe("grace");
  });

  it("is down, missed and never succeeded, at the end of grace", () => {
    expect(check("2026-06-01T03:30:00Z")).toMatchObject({
      state: "down",
      reasons: ["missed", "never-succeeded"],
      since: "2026-06-01T03:30:00Z",
      expectedBy: "2026-06-01T03:30:00Z",
    });
  });

  it("does not expect a slot that came before it was first seen", () => {
    expect(
      check("2026-06-01T02:40:00Z", [], { firstSeenAt: { nightly: "2026-06-01T02:35:00Z" } }).state,
    ).toBe("new");
  });

  it("takes first-seen from the earliest claim when no state says otherwise", () => {
    const claims = [{ schedule: "nightly", slot: "2026-06-02T02:30:00Z", claimedAt: "2026-06-02T02:30:01Z" }];
    expect(check("2026-06-02T04:00:00Z", [], { firstSeenAt: {}, claims })).toMatchObject({
      state: "new",
      since: "2026-06-02T02:30:01Z",
    });
  });
});

describe("covering a slot", () => {
  it("is up once a backup was requested for the slot, even while it runs", () => {
    const running = aSummary("instance-a", {
      requestedAt: "2026-06-01T02:30:05Z",
      phase: "InProgress",
      startedAt: "2026-06-01T02:30:06Z",
    });
    expect(check("2026-06-01T03:30:00Z", [running])).toMatchObject({
      state: "up",
      reasons: [],
      lastAttemptAt: "2026-06-01T02:30:05Z",
      expectedBy: "2026-06-02T03:30:00Z",
    });
  });

  it("counts a backup requested up to one minute before the slot (clock skew)", () => {
    const early = done("instance-a", "2026-06-01T02:29:00Z", "2026-06-01T02:40:00Z");
    expect(
      check("2026-06-01T03:30:00Z", [early], { exports: [exported("instance-a", "2026-06-01T02:50:00Z")] })
        .state,
    ).toBe("up");
  });

  it("does not count a backup requested more than a minute before the slot", () => {
    const early = done("instance-a", "2026-06-01T02:28:59Z", "2026-06-01T02:40:00Z");
    expect(
      check("2026-06-01T03:30:00Z", [early], { exports: [exported("instance-a", "2026-06-01T02:50:00Z")] }),
    ).toMatchObject({
      state: "down",
      reasons: ["missed"],
    });
  });

  it("counts backups kotsadm's scheduler or a person made", () => {
    const kotsadm = done("instance-k", "2026-06-01T02:45:00Z", "2026-06-01T02:50:00Z", {
      trigger: "schedule",
    });
    expect(
      check("2026-06-01T03:30:00Z", [kotsadm], { exports: [exported("instance-k", "2026-06-01T03:00:00Z")] })
        .state,
    ).toBe("up");
  });

  it("recovers when a late backup is requested after the check went down", () => {
    const late = aSummary("instance-late", { requestedAt: "2026-06-01T04:00:00Z", phase: "InProgress" });
    expect(check("2026-06-01T04:00:01Z", [late]).state).toBe("up");
  });

  it("ignores backups of another type or app, and backups being deleted", () => {
    const partial = { type: "partial" as const, app: "my-app" };
    const backups = [
      done("instance-a", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z"),
      done("other-a", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z", { type: "partial", app: "other" }),
      done("my-app-a", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z", {
        type: "partial",
        app: "my-app",
        phase: "Deleting",
        status: "Deleting",
      }),
    ];
    expect(check("2026-06-01T03:30:00Z", backups, { schedule: partial }).reasons).toEqual([
      "missed",
      "never-succeeded",
    ]);
  });

  it("goes down for the next day's slot when only yesterday's was covered", () => {
    const yesterday = [done("instance-a", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z")];
    const exports = [exported("instance-a", "2026-06-01T02:50:00Z")];
    expect(check("2026-06-02T03:29:59Z", yesterday, { exports }).state).toBe("grace");
    expect(check("2026-06-02T03:30:00Z", yesterday, { exports })).toMatchObject({
      state: "down",
      reasons: ["missed"],
      lastSuccessAt: "2026-06-01T02:40:00Z",
      lastExportAt: "2026-06-01T02:50:00Z",
    });
  });
});

describe("failed and stuck backups", () => {
  it("is down at once when the newest attempt failed", () => {
    const failed = done("instance-f", "2026-06-01T02:30:05Z", "2026-06-01T02:35:00Z", {
      phase: "PartiallyFailed",
    });
    expect(check("2026-06-01T02:35:00Z", [failed])).toMatchObject({
      state: "down",
      reasons: ["failed", "never-succeeded"],
      since: "2026-06-01T02:35:00Z",
    });
  });

  it("does not claim never-succeeded when an earlier backup succeeded", () => {
    const ok = done("instance-ok", "2026-05-31T02:30:05Z", "2026-05-31T02:40:00Z");
    const failed = done("instance-f", "2026-06-01T02:30:05Z", "2026-06-01T02:35:00Z", {
      phase: "FailedValidation",
    });
    const exports = [exported("instance-ok", "2026-05-31T03:00:00Z")];
    expect(check("2026-06-01T02:36:00Z", [ok, failed], { exports }).reasons).toEqual(["failed"]);
  });

  it("is up again after a manual retry succeeds", () => {
    const failed = done("instance-f", "2026-06-01T02:30:05Z", "2026-06-01T02:35:00Z", { phase: "Failed" });
    const retry = done("instance-r", "2026-06-01T03:00:00Z", "2026-06-01T03:10:00Z");
    expect(
      check("2026-06-01T03:20:00Z", [failed, retry], {
        exports: [exported("instance-r", "2026-06-01T03:15:00Z")],
      }).state,
    ).toBe("up");
  });

  it("is stuck exactly maxDuration after the backup started, not before", () => {
    const running = aSummary("instance-s", {
      requestedAt: "2026-06-01T02:30:00Z",
      startedAt: "2026-06-01T02:30:10Z",
      phase: "InProgress",
    });
    expect(check("2026-06-01T06:30:09Z", [running]).state).toBe("up");
    expect(check("2026-06-01T06:30:10Z", [running])).toMatchObject({
      state: "down",
      reasons: ["stuck", "never-succeeded"],
      since: "2026-06-01T06:30:10Z",
    });
  });

  it("measures a queued backup that never started from its request", () => {
    const queued = aSummary("instance-q", { requestedAt: "2026-06-01T02:30:00Z", phase: "Queued" });
    expect(check("2026-06-01T06:30:00Z", [queued]).reasons).toContain("stuck");
  });
});

describe("backups dated in the future (a cluster clock ahead, or a hand-edited annotation)", () => {
  const yesterday = done("instance-y", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z");
  const future = done("instance-f", "2099-01-01T02:30:00Z", "2099-01-01T02:40:00Z");
  const exports = [
    exported("instance-y", "2026-06-01T02:50:00Z"),
    exported("instance-f", "2026-06-01T03:00:00Z"),
  ];

  it("goes down with clock-skew when the only recent success is dated in the future, and derives nothing from it", () => {
    expect(check("2026-06-02T03:00:00Z", [yesterday, future], { exports })).toMatchObject({
      state: "down",
      reasons: ["clock-skew"],
      since: "2026-06-02T03:00:00Z",
      lastSuccessAt: "2026-06-01T02:40:00Z",
      lastAttemptAt: "2026-06-01T02:30:05Z",
      expectedBy: "2026-06-02T03:30:00Z",
    });
  });

  it("reports a missed slot alongside, and does not claim never-succeeded for a future-dated success", () => {
    expect(check("2026-06-01T04:00:00Z", [future], { exports })).toMatchObject({
      state: "down",
      reasons: ["clock-skew", "missed"],
      expectedBy: "2026-06-01T03:30:00Z",
    });
    expect(check("2026-06-01T04:00:00Z", [future], { exports }).lastAttemptAt).toBeUndefined();
  });

  it("still counts a genuine backup made in the present", () => {
    const today = done("instance-t", "2026-06-02T02:30:05Z", "2026-06-02T02:40:00Z");
    const result = check("2026-06-02T03:00:00Z", [yesterday, future, today], {
      exports: [...exports, exported("instance-t", "2026-06-02T02:50:00Z")],
    });
    expect(result).toMatchObject({
      state: "down",
      reasons: ["clock-skew"],
      lastSuccessAt: "2026-06-02T02:40:00Z",
      lastAttemptAt: "2026-06-02T02:30:05Z",
      expectedBy: "2026-06-03T03:30:00Z",
    });
  });

  it("reports a future start or completion time too, whatever the phase", () => {
    const running = aSummary("instance-r", {
      requestedAt: "2026-06-01T02:30:05Z",
      startedAt: "2099-01-01T00:00:00Z",
      phase: "InProgress",
    });
    expect(check("2026-06-01T03:00:00Z", [yesterday, running], { exports }).reasons).toEqual(["clock-skew"]);
  });

  it("tolerates a cluster clock up to five minutes ahead", () => {
    const ahead = done("instance-a", "2026-06-02T03:04:00Z", "2026-06-02T03:05:00Z");
    const result = check("2026-06-02T03:00:00Z", [yesterday, ahead], {
      exports: [...exports, exported("instance-a", "2026-06-02T03:00:00Z")],
    });
    expect(result).toMatchObject({ state: "up", reasons: [], lastSuccessAt: "2026-06-02T03:05:00Z" });
    expect(check("2026-06-02T02:59:59Z", [yesterday, ahead], { exports }).reasons).toEqual(["clock-skew"]);
  });
});

describe("exports", () => {
  const ok = done("instance-a", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z");

  it("is up one second before exportGrace ends without an export", () => {
    expect(check("2026-06-01T04:39:59Z", [ok]).state).toBe("up");
  });

  it("is down, export-missing, when exportGrace ends without an export", () => {
    expect(check("2026-06-01T04:40:00Z", [ok])).toMatchObject({
      state: "down",
      reasons: ["export-missing"],
      since: "2026-06-01T04:40:00Z",
    });
  });

  it("is down, export-invalid, when the export did not verify", () => {
    expect(
      check("2026-06-01T03:00:00Z", [ok], {
        exports: [exported("instance-a", "2026-06-01T02:55:00Z", false)],
      }),
    ).toMatchObject({
      state: "down",
      reasons: ["export-invalid"],
    });
  });

  it("does not ask for an export when the schedule does not export", () => {
    expect(check("2026-06-01T12:00:00Z", [ok], { schedule: { export: false } }).state).toBe("up");
  });
});

describe("paused schedules and the environment", () => {
  it("reports a paused schedule as paused, with its facts but no reasons", () => {
    const ok = done("instance-a", "2026-06-01T02:30:05Z", "2026-06-01T02:40:00Z");
    expect(check("2026-06-10T00:00:00Z", [ok], { schedule: { paused: true } })).toEqual({
      name: "nightly",
      state: "paused",
      reasons: [],
      lastSuccessAt: "2026-06-01T02:40:00Z",
      lastSuccessBackup: "instance-a",
      lastAttemptAt: "2026-06-01T02:30:05Z",
      // On the cluster's BSL only (no export): still the newest backup to restore from.
      restorePoint: {
        backup: "instance-a",
        completedAt: "2026-06-01T02:40:00Z",
        restoreCommand: "kubectl kots restore --from-backup instance-a",
      },
    });
  });

  it("reports an unreachable cluster in grace, then down once grace has passed", () => {
    const since = new Date("2026-06-01T10:00:00Z");
    expect(
      check("2026-06-01T10:59:59Z", [], { clusterReachable: false, clusterUnreachableSince: since }),
    ).toMatchObject({
      state: "grace",
      reasons: ["cluster-unreachable"],
      since: "2026-06-01T10:00:00Z",
    });
    expect(
      check("2026-06-01T11:00:00Z", [], { clusterReachable: false, clusterUnreachableSince: since }),
    ).toMatchObject({
      state: "down",
      reasons: ["cluster-unreachable"],
      since: "2026-06-01T11:00:00Z",
    });
  });

  it("reports an unavailable BSL alongside what it causes", () => {
    const result = check("2026-06-01T04:00:00Z", [], {
      bslAvailable: false,
      bslUnavailableSince: new Date("2026-06-01T02:00:00Z"),
    });
    expect(result).toMatchObject({
      state: "down",
      reasons: ["bsl-unavailable", "missed", "never-succeeded"],
    });
  });

  it("evaluates one check per schedule", () => {
    const checks = evaluateChecks({
      schedules: [nightly, { ...nightly, name: "hourly", cron: "0 * * * *" }],
      backups: [],
      clusterReachable: true,
      firstSeenAt: { nightly: FIRST_SEEN, hourly: FIRST_SEEN },
      now: new Date("2026-06-01T01:30:00Z"),
    });
    expect(checks.map((c) => [c.name, c.state])).toEqual([
      ["nightly", "new"],
      ["hourly", "grace"],
    ]);
  });
});

describe("DST (daily 02:30 Europe/Paris)", () => {
  const paris = { timezone: "Europe/Paris" };
  const firstSeenAt = { nightly: "2026-03-01T00:00:00Z" };

  it("does not call the skipped spring-forward slot missed", () => {
    const ok = done("instance-a", "2026-03-28T01:30:05Z", "2026-03-28T01:40:00Z");
    const exports = [exported("instance-a", "2026-03-28T01:50:00Z")];
    expect(check("2026-03-29T12:00:00Z", [ok], { schedule: paris, firstSeenAt, exports })).toMatchObject({
      state: "up",
      expectedBy: "2026-03-30T01:30:00Z",
    });
  });

  it("expects the fall-back slot once, at its first (CEST) occurrence", () => {
    const ok = done("instance-a", "2026-10-25T00:30:05Z", "2026-10-25T00:40:00Z");
    const exports = [exported("instance-a", "2026-10-25T00:50:00Z")];
    expect(check("2026-10-25T02:00:00Z", [ok], { schedule: paris, firstSeenAt, exports })).toMatchObject({
      state: "up",
      expectedBy: "2026-10-26T02:30:00Z",
    });
  });
});

describe("properties", () => {
  const schedules: CheckSchedule[] = [
    nightly,
    {
      ...nightly,
      name: "hourly",
      cron: "0 * * * *",
      timezone: "America/New_York",
      grace: 15 * 60_000,
      maxDuration: 30 * 60_000,
      exportGrace: 20 * 60_000,
    },
    {
      ...nightly,
      name: "quarter",
      cron: "*/15 * * * *",
      timezone: "Europe/Paris",
      grace: 10 * 60_000,
      maxDuration: 10 * 60_000,
      exportGrace: 10 * 60_000,
    },
  ];
  const start = Date.parse("2026-03-01T00:00:00Z");
  const end = Date.parse("2026-11-30T00:00:00Z");

  /** A healthy history: every slot backed up within grace, completed within maxDuration, exported within exportGrace. */
  function healthyHistory(schedule: CheckSchedule, now: number, delays: [number, number, number]) {
    const backups: BackupSummary[] = [];
    const exports: ExportRecord[] = [];
    const from = Math.max(start, now - 3 * 86_400_000);
    for (const [i, slot] of slotsBetween(schedule, new Date(from), new Date(now + 1)).entries()) {
      const requested = slot.getTime() + Math.floor(delays[0] * (schedule.grace - 1));
      const completed = requested + Math.floor(delays[1] * (schedule.maxDuration - 1));
      const exportedAt = completed + Math.floor(delays[2] * (schedule.exportGrace - 1));
      if (requested > now) break;
      const name = `b-${i}`;
      const iso = (t: number) => new Date(t).toISOString();
      backups.push(
        completed <= now
          ? done(name, iso(requested), iso(completed))
          : aSummary(name, { requestedAt: iso(requested), startedAt: iso(requested), phase: "InProgress" }),
      );
      if (completed <= now && exportedAt <= now) exports.push(exported(name, iso(exportedAt)));
    }
    return { backups, exports };
  }

  const delay = fc.double({ min: 0, max: 1, noNaN: true });

  it("never reports down for a schedule with a successful, exported backup in every slot", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...schedules),
        fc.integer({ min: start + 3 * 86_400_000, max: end }),
        fc.tuple(delay, delay, delay),
        (schedule, now, delays) => {
          const { backups, exports } = healthyHistory(schedule, now, delays);
          const result = evaluateCheck(schedule, {
            schedules: [],
            backups,
            exports,
            clusterReachable: true,
            firstSeenAt: { [schedule.name]: new Date(start).toISOString() },
            now: new Date(now),
          });
          expect(result.state).not.toBe("down");
        },
      ),
      { numRuns: 200 },
    );
  });

  const rank = { new: 0, up: 0, grace: 1, down: 2, paused: -1 } as const;
  const arbitraryBackup = (now: number) =>
    fc
      .record({
        offset: fc.integer({ min: 0, max: 3 * 86_400_000 }),
        duration: fc.integer({ min: 0, max: 6 * H }),
        phase: fc.constantFrom("Completed", "Completed", "InProgress", "Failed", "PartiallyFailed", "Queued"),
        exported: fc.constantFrom("yes", "no", "invalid"),
      })
      .map(({ offset, duration, phase, exported: ex }) => ({ requested: now - offset, duration, phase, ex }));

  it("a backup dated beyond the clock-skew allowance never changes a derived time, and is always reported", () => {
    const now = Date.parse("2026-06-10T12:00:00Z");
    fc.assert(
      fc.property(
        fc.constantFrom(...schedules),
        fc.array(arbitraryBackup(now), { maxLength: 6 }),
        fc.integer({ min: 5 * 60_000 + 1, max: 80 * 365 * 86_400_000 }),
        fc.constantFrom("Completed", "InProgress", "Failed"),
        fc.constantFrom("requestedAt", "startedAt", "completedAt"),
        (schedule, specs, ahead, phase, field) => {
          const iso = (t: number) => new Date(t).toISOString();
          const backups = specs.map((spec, i) =>
            done(`b-${i}`, iso(spec.requested), iso(Math.min(now, spec.requested + spec.duration)), {
              phase: spec.phase,
            }),
          );
          const input = {
            schedules: [],
            exports: backups.map((b) => exported(b.name, b.completedAt ?? "")),
            clusterReachable: true,
            firstSeenAt: { [schedule.name]: "2026-06-01T00:00:00Z" },
            now: new Date(now),
          };
          const before = evaluateCheck(schedule, { ...input, backups });
          const future = done("f", iso(now), iso(now), { phase, [field]: iso(now + ahead) });
          const after = evaluateCheck(schedule, { ...input, backups: [...backups, future] });
          expect(after.state).toBe("down");
          expect(after.reasons).toContain("clock-skew");
          for (const key of ["lastSuccessAt", "lastAttemptAt", "expectedBy", "lastExportAt"] as const)
            expect(after[key]).toBe(before[key]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never makes a check healthier by adding a failed backup", () => {
    const now = Date.parse("2026-06-10T12:00:00Z");
    fc.assert(
      fc.property(
        fc.constantFrom(...schedules),
        fc.array(arbitraryBackup(now), { maxLength: 6 }),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        fc.constantFrom("Failed", "PartiallyFailed", "FailedValidation"),
        (schedule, specs, failedOffset, failedPhase) => {
          const iso = (t: number) => new Date(t).toISOString();
          const backups: BackupSummary[] = [];
          const exports: ExportRecord[] = [];
          specs.forEach((spec, i) => {
            const completed = spec.requested + spec.duration;
            const terminal = spec.phase !== "InProgress" && spec.phase !== "Queued" && completed <= now;
            backups.push(
              aSummary(`b-${i}`, {
                requestedAt: iso(spec.requested),
                startedAt: iso(spec.requested),
                phase: terminal ? spec.phase : "InProgress",
                ...(terminal ? { completedAt: iso(completed) } : {}),
              }),
            );
            if (terminal && spec.ex !== "no")
              exports.push(exported(`b-${i}`, iso(completed), spec.ex === "yes"));
          });
          const input = {
            schedules: [],
            exports,
            clusterReachable: true,
            firstSeenAt: { [schedule.name]: "2026-06-01T00:00:00Z" },
            now: new Date(now),
          };
          const before = evaluateCheck(schedule, { ...input, backups });
          const failed = aSummary("f", {
            requestedAt: iso(now - failedOffset),
            completedAt: iso(now - failedOffset),
            phase: failedPhase,
          });
          const after = evaluateCheck(schedule, { ...input, backups: [...backups, failed] });
          expect(rank[after.state]).toBeGreaterThanOrEqual(rank[before.state]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

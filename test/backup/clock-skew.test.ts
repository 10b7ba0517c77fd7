// Cluster timestamps are untrusted input: a Backup dated in the future (a cluster clock that ran
// ahead, or a hand-edited `kots.io/snapshot-requested`) must not stand in for every later slot.
// Through the sandbox cluster: the scheduled run still asks kotsadm, and verify reports `clock-skew`.
import { StateStore, slotClaimStore } from "@kots-backup/adapters/state/state-store";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import type { CheckSchedule } from "@kots-backup/core/freshness";
import { type BackupRunResult, runBackup } from "@kots-backup/core/usecases/index";
import { runVerify, type VerifyDeps } from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { afterEach, describe, expect, it } from "vitest";
import { RecordingDelivery } from "../verify/support.ts";
import { driveUntilSettled, openTestCluster, type TestCluster } from "./support.ts";

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

const nightly: CheckSchedule = {
  name: "nightly",
  cron: "0 2 * * *",
  timezone: "UTC",
  type: "full",
  grace: 3_600_000,
  maxDuration: 4 * 3_600_000,
  export: false,
  exportGrace: 2 * 3_600_000,
  paused: false,
};

describe("a Backup dated in the future (sandbox cluster)", () => {
  it("does not satisfy later slots: the scheduled run asks kotsadm, and verify reports clock-skew", async () => {
    env = await openTestCluster();
    const t = env;
    const store = new MemoryStore("dest");
    const state = new StateStore(store);
    const claims = slotClaimStore(state);
    const delivery = new RecordingDelivery(["pagerduty"]);
    const verifyDeps = (): VerifyDeps => ({
      cluster: t.cluster,
      destination: store,
      claims: () => state.listClaims(),
      silences: () => state.listSilences(),
      records: checkRecordStore(store),
      deliver: delivery.port,
      channels: delivery.channels,
      now: t.now(),
    });
    // Sandbox time is 2026-11-23T12:00Z. Last night's backup, and one dated 2099 (7 h long).
    await t.sandbox.scenario.addBackup({ kind: "instance", startedAt: new Date("2026-11-23T02:00:05Z") });
    const future = await t.sandbox.scenario.addBackup({
      kind: "instance",
      startedAt: new Date("2099-01-01T02:00:00Z"),
      durationMs: 7 * 3_600_000,
    });

    const before = await runVerify([nightly], verifyDeps());
    expect(before.report.checks[0]).toMatchObject({
      state: "down",
      reasons: ["clock-skew"],
      lastSuccessAt: "2026-11-23T02:01:05Z",
      lastAttemptAt: "2026-11-23T02:00:05Z",
      expectedBy: "2026-11-24T03:00:00Z",
    });
    expect(delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
    expect(delivery.sent[0]?.event.detail.message).toMatch(/future/);

    // The next slot: the 2099 Backup was not "requested" in it, so kotsadm is asked.
    await t.sandbox.clock.advance(Date.parse("2026-11-24T02:00:00Z") - t.now().getTime());
    const slot = "2026-11-24T02:00:00Z";
    const result = (await driveUntilSettled(
      t.sandbox,
      runBackup(
        { type: "full", trigger: "schedule", schedule: "nightly", slot },
        { cluster: t.cluster, claims, emit: t.emit, now: t.now },
      ),
    )) as BackupRunResult;
    expect(result).toMatchObject({ outcome: "started", deduplicated: false, phase: "Completed" });
    expect(result.name).not.toBe(future.metadata.name);
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);

    // The genuine backup counts; the 2099 one is still reported, and no time is derived from it.
    const after = await runVerify([nightly], verifyDeps());
    expect(after.report.checks[0]).toMatchObject({
      state: "down",
      reasons: ["clock-skew"],
      lastSuccessAt: result.completedAt,
      lastAttemptAt: result.requestedAt,
      expectedBy: "2026-11-25T03:00:00Z",
    });
    const duration = (Date.parse(result.completedAt ?? "") - Date.parse(result.startedAt ?? "")) / 1000;
    expect(after.figures[0]).toMatchObject({ state: "down", lastBackupDurationSeconds: duration });

    // Deleting the misdated Backup (or waiting until its date) closes the incident.
    t.sandbox.state.delete(
      t.sandbox.registry.byResource("velero.io", "backups"),
      t.sandbox.namespaces.velero,
      future.metadata.name ?? "",
    );
    const fixed = await runVerify([nightly], verifyDeps());
    expect(fixed.report.checks[0]).toMatchObject({ state: "up", reasons: [] });
    expect(delivery.to("pagerduty")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
  });
});

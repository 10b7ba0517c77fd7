// Scheduled runs: exactly one backup per (schedule, slot), skips while a backup is in progress, and
// the 50-process race against the state store on the S3 peer (moto).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { StateStore, slotClaimStore } from "@kots-backup/adapters/state/state-store";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import { CLAIM_LEASE_MS, type RunBackupResult, runBackup } from "@kots-backup/core/usecases/index";
import { afterEach, describe, expect, it } from "vitest";
import { describeWithMoto, motoEndpoint, motoS3, uniqueBucketName } from "../support/peers.ts";
import { backupsIn, openTestCluster, type TestCluster } from "./support.ts";

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

function scheduled(slot: string) {
  return { type: "full" as const, trigger: "schedule" as const, schedule: "nightly", slot, wait: false };
}

describe("scheduled runs (state store on a MemoryStore)", () => {
  it("a second invocation for the same slot starts nothing and reports the first one's backup", async () => {
    env = await openTestCluster();
    const t = env;
    const state = new StateStore(new MemoryStore());
    const claims = slotClaimStore(state);
    const slot = iso(t.now());
    const first = await runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now });
    const second = await runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now });
    expect(first).toMatchObject({
      outcome: "started",
      deduplicated: false,
      trigger: "schedule",
      schedule: "nightly",
    });
    expect(second).toMatchObject({
      outcome: "deduplicated",
      deduplicated: true,
      name: (first as { name: string }).name,
    });
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);
    expect(await claims.getClaim("nightly", slot)).toMatchObject({
      outcome: "started",
      backup: (first as { name: string }).name,
    });
    expect(t.events.map((e) => e.detailType)).toEqual(["Backup Started"]);
    expect(t.events[0]?.detail).toMatchObject({ schedule: "nightly", dedupKey: "kots-backup:test:nightly" });
  });

  it("adopts a KOTS backup already requested in the slot when the claim record was lost", async () => {
    env = await openTestCluster();
    const t = env;
    const slot = iso(t.now());
    await t.sandbox.clock.advance(1_000);
    const earlier = await runBackup(
      { type: "full", trigger: "manual", wait: false },
      { cluster: t.cluster, emit: () => {}, now: t.now },
    );
    const claims = slotClaimStore(new StateStore(new MemoryStore()));
    const result = await runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now });
    expect(result).toMatchObject({ outcome: "deduplicated", name: (earlier as { name: string }).name });
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);
  });

  it("a retry after a run died between claiming the slot and asking kotsadm takes the claim over and starts one backup", async () => {
    env = await openTestCluster();
    const t = env;
    const state = new StateStore(new MemoryStore());
    const claims = slotClaimStore(state);
    const slot = iso(t.now());
    // The dead run's claim: no outcome, older than the lease.
    await claims.claimSlot("nightly", slot, {
      schedule: "nightly",
      slot,
      claimedAt: iso(new Date(t.now().getTime() - CLAIM_LEASE_MS - 1_000)),
    });
    const retry = await runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now });
    const again = await runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now });
    expect(retry).toMatchObject({ outcome: "started" });
    expect(again).toMatchObject({ outcome: "deduplicated", name: (retry as { name: string }).name });
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);
    expect(await claims.getClaim("nightly", slot)).toMatchObject({ outcome: "started" });
  });

  it("a retry after a run died between asking kotsadm and recording it adopts that backup: no second request", async () => {
    env = await openTestCluster();
    const t = env;
    const claims = slotClaimStore(new StateStore(new MemoryStore()));
    const slot = iso(t.now());
    await claims.claimSlot("nightly", slot, {
      schedule: "nightly",
      slot,
      claimedAt: iso(new Date(t.now().getTime() - CLAIM_LEASE_MS - 1_000)),
    });
    await t.sandbox.clock.advance(1_000);
    const dead = await runBackup(
      { type: "full", trigger: "manual", wait: false },
      { cluster: t.cluster, emit: () => {}, now: t.now },
    );
    const retry = await runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now });
    expect(retry).toMatchObject({ outcome: "deduplicated", name: (dead as { name: string }).name });
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);
  });

  it("a claim younger than the lease, without an outcome, belongs to a live run: a duplicate starts nothing", async () => {
    env = await openTestCluster();
    const t = env;
    const claims = slotClaimStore(new StateStore(new MemoryStore()));
    const slot = iso(t.now());
    await claims.claimSlot("nightly", slot, { schedule: "nightly", slot, claimedAt: iso(t.now()) });
    const duplicate = await runBackup(scheduled(slot), {
      cluster: t.cluster,
      claims,
      emit: t.emit,
      now: t.now,
    });
    expect(duplicate).toMatchObject({ outcome: "claimed-elsewhere" });
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(0);
  });

  it("skips, as kotsadm does, while a previous backup of the same kind is still in progress", async () => {
    env = await openTestCluster();
    const t = env;
    const stuck = await t.sandbox.scenario.addBackup({
      kind: "instance",
      phase: "InProgress",
      startedAt: new Date(t.now().getTime() - 3_600_000),
    });
    // Someone else's backup in progress does not count: only this kotsadm's instance backups do.
    await t.sandbox.scenario.addBackup({
      kind: "instance",
      kotsadmNamespace: "elsewhere",
      phase: "InProgress",
    });
    const claims = slotClaimStore(new StateStore(new MemoryStore()));
    const slot = iso(t.now());
    const result: RunBackupResult = await runBackup(scheduled(slot), {
      cluster: t.cluster,
      claims,
      emit: t.emit,
      now: t.now,
    });
    expect(result).toMatchObject({
      outcome: "skipped",
      backup: stuck.metadata.name,
      schedule: "nightly",
      slot,
    });
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(0);
    expect(t.events.map((e) => e.detailType)).toEqual(["Backup Skipped"]);
    expect(t.events[0]?.detail).toMatchObject({
      schedule: "nightly",
      backup: stuck.metadata.name,
      reasons: ["in-progress"],
    });
    expect(await claims.getClaim("nightly", slot)).toMatchObject({ outcome: "skipped" });
  });

  it("records a refused request on the claim and emits Backup Failed for the schedule", async () => {
    env = await openTestCluster();
    const t = env;
    t.sandbox.kotsadm.refuseVeleroAccess = true;
    const claims = slotClaimStore(new StateStore(new MemoryStore()));
    const slot = iso(t.now());
    await expect(
      runBackup(scheduled(slot), { cluster: t.cluster, claims, emit: t.emit, now: t.now }),
    ).rejects.toMatchObject({
      code: "kotsadm-requires-velero-access",
    });
    expect(await claims.getClaim("nightly", slot)).toMatchObject({ outcome: "error" });
    expect(t.events.map((e) => e.detailType)).toEqual(["Backup Failed"]);
  });
});

interface ChildOutput {
  result?: RunBackupResult;
  events?: { detailType: string }[];
  error?: { message: string; code?: string };
}

describeWithMoto("exactly once per slot across processes (S3 state store on moto)", () => {
  // 50 Node processes loading the whole stack: minutes of CPU on a loaded 2-core machine.
  it("50 concurrent scheduled invocations of one slot from separate processes start exactly one backup", {
    timeout: 480_000,
  }, async () => {
    env = await openTestCluster();
    const t = env;
    const bucket = uniqueBucketName("race");
    const s3 = motoS3();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const slot = iso(t.now());
    const script = join(import.meta.dirname, "fixtures", "scheduled-run.ts");
    const config = JSON.stringify({
      kubeconfig: t.sandbox.kubeconfigPath,
      endpoint: motoEndpoint(),
      bucket,
      schedule: "nightly",
      slot,
      sandboxNowMs: t.now().getTime(),
      realNowMs: Date.now(),
    });

    const children = Array.from({ length: 50 }, () => {
      const child = spawn(process.execPath, [script], {
        env: { ...process.env, SCHEDULED_RUN: config },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      const ready = Promise.withResolvers<void>();
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.startsWith("ready\n")) ready.resolve();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      void exited.then(() => ready.resolve()); // a dead one is not waited for: its missing result fails the test
      return { child, out: () => out, err: () => err, exited, ready: ready.promise };
    });
    // All 50 loaded and connected before any of them races for the slot (however long a busy machine
    // takes to start them).
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write("go\n");
    const codes = await Promise.all(children.map((c) => c.exited));
    const outputs: ChildOutput[] = children.map((c, i) => {
      const line = c
        .out()
        .split("\n")
        .find((l) => l.startsWith("{"));
      if (!line)
        throw new Error(`process ${i} printed no result (exit ${codes[i]}): ${c.err().slice(0, 500)}`);
      return JSON.parse(line) as ChildOutput;
    });

    expect(outputs.filter((o) => o.error)).toEqual([]);
    const outcomes = outputs.map((o) => o.result?.outcome);
    expect(outcomes.filter((o) => o === "started")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "claimed-elsewhere" || o === "deduplicated")).toHaveLength(49);
    // kotsadm's request log: one backup POST, one Backup.
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);
    const backups = backupsIn(t.sandbox);
    expect(backups).toHaveLength(1);
    expect(
      outputs.flatMap((o) => o.events ?? []).filter((e) => e.detailType === "Backup Started"),
    ).toHaveLength(1);
    const claims = slotClaimStore(
      new StateStore(
        new (await import("@kots-backup/adapters/store/s3")).S3Store({
          bucket,
          prefix: "kots-backup",
          client: s3,
        }),
      ),
    );
    expect(await claims.getClaim("nightly", slot)).toMatchObject({
      outcome: "started",
      backup: backups[0]?.metadata.name,
    });
    s3.destroy();
  });
});

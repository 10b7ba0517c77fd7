// listBackups against the sandbox: exactly what `kubectl kots get backups` lists, plus app backups.
import { StateStore, slotClaimStore } from "@kots-backup/adapters/state/state-store";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import { listBackups, runBackup } from "@kots-backup/core/usecases/index";
import { afterEach, describe, expect, it } from "vitest";
import { openTestCluster, type TestCluster } from "./support.ts";

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

const HOUR = 3_600_000;

describe("listBackups", () => {
  it("lists this kotsadm's instance backups, improved-DR pairs as one entry, and its apps' backups, newest first", async () => {
    env = await openTestCluster({ apps: [{ slug: "my-app" }, { slug: "other-app" }] });
    const { scenario, clock } = env.sandbox;
    const at = (hoursAgo: number) => new Date(clock.nowMs() - hoursAgo * HOUR);
    const ours = [
      await scenario.addBackup({ kind: "instance", startedAt: at(10), trigger: "schedule" }),
      await scenario.addBackup({ kind: "instance", startedAt: at(8), phase: "PartiallyFailed", errors: 2 }),
      await scenario.addBackup({ kind: "instance", startedAt: at(1), phase: "InProgress" }),
    ];
    const appBackups = [
      await scenario.addBackup({ kind: "app", appSlug: "my-app", startedAt: at(5) }),
      await scenario.addBackup({ kind: "app", appSlug: "other-app", startedAt: at(4), phase: "Failed" }),
    ];
    const pair = await scenario.addImprovedDrPair({ startedAt: at(3) });
    const brokenPair = await scenario.addImprovedDrPair({
      startedAt: at(2),
      infraPhase: "Completed",
      appPhase: "Failed",
    });
    // Not listed: other Velero users, another kotsadm install, an app of another kotsadm.
    await scenario.addBackup({ kind: "other", startedAt: at(6) });
    await scenario.addBackup({ kind: "other", startedAt: at(0.5), phase: "InProgress" });
    await scenario.addBackup({ kind: "instance", kotsadmNamespace: "other-kots", startedAt: at(7) });
    await scenario.addBackup({
      kind: "other",
      startedAt: at(9),
      annotations: { "kots.io/app-id": "someone-elses-app" },
    });

    const rows = await listBackups({}, { cluster: env.cluster });

    const pairName = (objects: typeof pair) => objects[0]!.metadata.labels!["replicated.com/backup-name"];
    expect(rows.map((r) => r.name)).toEqual([
      ours[2]!.metadata.name,
      pairName(brokenPair),
      pairName(pair),
      appBackups[1]!.metadata.name,
      appBackups[0]!.metadata.name,
      ours[1]!.metadata.name,
      ours[0]!.metadata.name,
    ]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    expect(byName.get(ours[0]!.metadata.name!)).toMatchObject({
      type: "full",
      trigger: "schedule",
      status: "Completed",
    });
    expect(byName.get(ours[1]!.metadata.name!)).toMatchObject({
      phase: "PartiallyFailed",
      status: "Failed",
      errors: 2,
    });
    expect(byName.get(ours[2]!.metadata.name!)).toMatchObject({ phase: "InProgress", status: "InProgress" });
    expect(byName.get(pairName(pair)!)).toMatchObject({ type: "full", status: "Completed" });
    expect(byName.get(pairName(brokenPair)!)).toMatchObject({ status: "Failed" });
    expect(byName.get(appBackups[0]!.metadata.name!)).toMatchObject({ type: "partial", app: "my-app" });

    const mine = await listBackups({ app: "other-app" }, { cluster: env.cluster });
    expect(mine.map((r) => r.name)).toEqual([appBackups[1]!.metadata.name]);
  });

  it("pages through 1,200 backups with limit and continue", { timeout: 120_000 }, async () => {
    env = await openTestCluster();
    const { scenario, clock, faults } = env.sandbox;
    const start = clock.nowMs() - 1_300 * HOUR;
    await scenario.addBackups(1_200, (i) => ({ kind: "instance", startedAt: new Date(start + i * HOUR) }));
    await scenario.addBackups(100, (i) => ({ kind: "other", startedAt: new Date(start + i * HOUR) }));
    // A rule with no effect only records the requests it matches: the list pages.
    faults.add({
      target: "api",
      method: "GET",
      path: /\/apis\/velero\.io\/v1\/namespaces\/velero\/backups\?.*limit=500/,
    });

    const rows = await listBackups({}, { cluster: env.cluster });

    expect(rows).toHaveLength(1_200);
    const times = rows.map((r) => Date.parse(r.requestedAt ?? ""));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(faults.hits).toHaveLength(3);
    expect(faults.hits.filter((h) => h.path.includes("continue="))).toHaveLength(2);
  });

  it("marks the backups kots-backup started for a schedule from its claims", async () => {
    env = await openTestCluster();
    const t = env;
    const claims = slotClaimStore(new StateStore(new MemoryStore()));
    const slot = t
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const started = await runBackup(
      { type: "full", trigger: "schedule", schedule: "nightly", slot, wait: false },
      { cluster: t.cluster, claims, emit: () => {}, now: t.now },
    );
    await t.sandbox.clock.advance(60_000);
    const manual = await runBackup(
      { type: "full", trigger: "manual", wait: false },
      { cluster: t.cluster, emit: () => {}, now: t.now },
    );
    const rows = await listBackups({}, { cluster: t.cluster, claims });
    expect(rows.map((r) => [r.name, r.trigger, r.schedule])).toEqual([
      [(manual as { name: string }).name, "manual", undefined],
      [(started as { name: string }).name, "schedule", "nightly"],
    ]);
  });

  it("refuses an unknown --app with exit 2", async () => {
    env = await openTestCluster();
    await expect(listBackups({ app: "nope" }, { cluster: env.cluster })).rejects.toMatchObject({
      code: "unknown-app",
      exitCode: 2,
    });
  });
});

// One world, two deployments: the local daemon (local-folder destination) and the Lambdas' `reconcile`
// handler (S3 destination and the event bus on moto) look at the same sandbox cluster and must decide
// the same things: which backups to export, which terminal events to emit (once), and what to page.
//
// The world holds what made them differ before the decisions moved into core:
// - the newest backup of an exported schedule was taken from kotsadm's admin console (no slot claim):
//   it is exported whoever started it;
// - a paused schedule with an exportable backup: not exported;
// - an older scheduled backup kots-backup claimed: followed to `Backup Completed` once, and not exported
//   (superseded by the newer one of the same schedule);
// - a schedule whose newest backup failed: one Check Down, not repeated.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect } from "@kots-backup/adapters/kube/connection";
import { StateStore } from "@kots-backup/adapters/state/state-store";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { S3Store } from "@kots-backup/adapters/store/s3";
import type { KotsBackupEvent } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import { slotIso } from "@kots-backup/core/daemon-plan";
import { lastSlotAtOrBefore } from "@kots-backup/core/schedule";
import type { VerifyRun } from "@kots-backup/core/usecases/verify";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Daemon } from "../../packages/cli/src/daemon/daemon.ts";
import { type FakeDeployment, fakeDeployment, lambdaContext } from "../functions/support.ts";
import { describeWithMoto, motoS3 } from "../support/peers.ts";

const HOUR = 3_600_000;
const schedules = [
  { name: "nightly", cron: "0 2 * * *", type: "full" },
  { name: "app-hourly", cron: "0 * * * *", type: "partial", app: "my-app", paused: true },
  { name: "other-daily", cron: "0 3 * * *", type: "partial", app: "other-app", export: false },
];

const rateEvent = { version: "0", id: "rate", "detail-type": "Scheduled Event", source: "aws.scheduler" };

interface Decisions {
  exported: string[];
  events: string[];
  checks: string[];
}

/** Events as a comparable line: what, which backup and schedule, why (times differ by design). */
const eventLine = (detailType: string, detail: Record<string, unknown>) =>
  [
    detailType,
    detail["schedule"] ?? "-",
    detail["backup"] ?? "-",
    ...((detail["reasons"] as string[]) ?? []),
  ].join(" ");

const manifests = (keys: string[]) =>
  keys
    .filter((k) => k.startsWith("manifests/") && k.endsWith(".json"))
    .map((k) => k.slice("manifests/".length, -".json".length))
    .sort();

async function listKeys(store: LocalFolderStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list("")) keys.push(info.key);
  return keys;
}

describeWithMoto("daemon and Lambdas decide alike", () => {
  let sandbox: Sandbox;
  let dep: FakeDeployment;
  let folder: string;
  let claimed: string;
  let manual: string;
  let paused: string;
  let failed: string;

  beforeAll(async () => {
    sandbox = await startSandbox({
      startTime: new Date(),
      apps: [{ slug: "my-app" }, { slug: "other-app" }],
    });
    const now = sandbox.clock.now();
    const slot = lastSlotAtOrBefore({ cron: "0 2 * * *", timezone: "UTC" }, now) as Date;
    // kots-backup's scheduled backup of the latest nightly slot, then a newer one from the admin console.
    claimed = (
      await sandbox.scenario.addBackup({ trigger: "schedule", startedAt: new Date(slot.getTime() + 60_000) })
    ).metadata.name as string;
    manual = (await sandbox.scenario.addBackup({ startedAt: new Date(now.getTime() - HOUR / 2) })).metadata
      .name as string;
    paused = (
      await sandbox.scenario.addBackup({
        kind: "app",
        appSlug: "my-app",
        startedAt: new Date(now.getTime() - HOUR),
      })
    ).metadata.name as string;

    failed = (
      await sandbox.scenario.addBackup({
        kind: "app",
        appSlug: "other-app",
        phase: "Failed",
        startedAt: new Date(now.getTime() - HOUR / 4),
      })
    ).metadata.name as string;

    dep = await fakeDeployment({ sandbox, schedules });
    folder = mkdtempSync(join(tmpdir(), "kb-parity-"));
    // The same slot claim in both deployments' state (each keeps its own).
    const claim = {
      schedule: "nightly",
      slot: slotIso(slot),
      claimedAt: slotIso(slot),
      outcome: "started" as const,
      backup: claimed,
    };
    const s3 = new S3Store({ bucket: dep.bucket, prefix: dep.prefix, client: motoS3() });
    for (const store of [new LocalFolderStore(folder), s3]) {
      await new StateStore(store).claimSlot("nightly", claim.slot, claim);
    }
  });
  afterAll(async () => {
    await sandbox?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  async function daemonDecides(): Promise<Decisions> {
    const destination = new LocalFolderStore(folder);
    const connection = await connect({ kind: "kubeconfig", file: sandbox.kubeconfigPath });
    const cluster = new KubeKotsCluster(connection, { name: "test" });
    const config = parseConfig({
      cluster: { name: "test" },
      schedules,
      export: { destination: `file://${folder}`, scope: "manifests" },
    });
    const events: KotsBackupEvent[] = [];
    let verified: VerifyRun | undefined;
    const controller = new AbortController();
    const daemon = new Daemon({
      config,
      cluster,
      destination,
      channels: [],
      log: () => {},
      now: () => sandbox.clock.now(),
      tickMs: 20,
      verifyIntervalMs: 24 * HOUR,
      onEvent: (e) => {
        if (e.type === "event") events.push(e.event);
        if (e.type === "verify") {
          verified = e.run;
          controller.abort();
        }
      },
    });
    await daemon.run(controller.signal);
    const run = verified as VerifyRun;
    const checkEvents = run.transitions.flatMap((t) => t.events);
    return {
      exported: manifests(await listKeys(destination)),
      events: [...events, ...checkEvents].map((e) => eventLine(e.detailType, e.detail)).sort(),
      checks: run.report.checks.map((c) => `${c.name} ${c.state} ${c.reasons.join(",")}`),
    };
  }

  async function lambdaDecides(): Promise<Decisions> {
    const { handler } = await import("../../packages/functions/src/reconcile.ts");
    const summary = await handler(rateEvent, lambdaContext("reconcile"));
    expect(summary.errors).toEqual([]);
    const events = await dep.takeEvents(1);
    return {
      exported: manifests(await dep.objects()),
      events: events.map((e) => eventLine(e["detail-type"], e.detail)).sort(),
      checks: (summary.verify?.checks ?? []).map((c) => `${c.name} ${c.state} ${c.reasons.join(",")}`),
    };
  }

  it("exports, follows and pages the same for the same world, and only once", async () => {
    const lambda = await lambdaDecides();
    const daemon = await daemonDecides();

    expect(lambda.exported).toEqual([manual]);
    expect(lambda.exported).not.toContain(paused);
    expect(lambda.events).toContain(`Backup Completed nightly ${claimed}`);
    expect(lambda.events).toContain(`Export Completed nightly ${manual}`);
    // The page names the failed backup (the one `velero backup logs` needs).
    expect(lambda.events).toContain(`Check Down other-daily ${failed} failed never-succeeded`);
    expect(daemon).toEqual(lambda);

    // A second pass of each: nothing is exported or emitted again.
    const lambdaAgain = await lambdaDecides();
    const daemonAgain = await daemonDecides();
    expect(lambdaAgain.exported).toEqual([manual]);
    expect(daemonAgain.exported).toEqual([manual]);
    expect(lambdaAgain.events).toEqual([]);
    expect(daemonAgain.events).toEqual([]);
  });
});

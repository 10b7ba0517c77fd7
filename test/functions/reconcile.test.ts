// The `reconcile` handler through middy (its rate event), after the `scheduled` and `onDemand` handlers
// started work, against the sandbox, a local folder destination and a local EventBridge (localDeployment:
// no AWS needed): it follows the scheduled backup to its terminal event
// (once), verifies and reports the Heartbeat, runs the pending exports, and stops at the graceful signal.
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LocalDeployment, lambdaContext, localDeployment, pause, recordOutput } from "./support.ts";

/** What EventBridge Scheduler sends for a `rate(5 minutes)` target without input. */
const rateEvent = {
  version: "0",
  id: "rate-1",
  "detail-type": "Scheduled Event",
  source: "aws.scheduler",
  account: "123456789012",
  time: new Date().toISOString(),
  region: "us-east-1",
  resources: [],
  detail: {},
};

describe("reconcile handler", () => {
  let sandbox: Sandbox;
  let dep: LocalDeployment;
  let reconcile: typeof import("../../packages/functions/src/reconcile.ts").handler;
  let scheduled: typeof import("../../packages/functions/src/scheduled.ts").handler;
  let onDemand: typeof import("../../packages/functions/src/on-demand.ts").handler;

  beforeAll(async () => {
    sandbox = await startSandbox({ startTime: new Date() });
    dep = await localDeployment({ sandbox });
    ({ handler: reconcile } = await import("../../packages/functions/src/reconcile.ts"));
    ({ handler: scheduled } = await import("../../packages/functions/src/scheduled.ts"));
    ({ handler: onDemand } = await import("../../packages/functions/src/on-demand.ts"));
  });
  afterAll(async () => {
    await dep?.close();
    await sandbox?.stop();
  });
  afterEach(() => vi.restoreAllMocks());

  it("follows the scheduled backup to Backup Completed once, exports it, verifies and beats", async () => {
    const output = recordOutput();
    const scheduledTime = new Date(Math.floor(Date.now() / 60_000) * 60_000)
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const started = (await scheduled(
      { schedule: "nightly", scheduledTime, executionId: "exec-r1" },
      lambdaContext("scheduled"),
    )) as { name: string };
    expect((await dep.takeEvents(1)).map((e) => e["detail-type"])).toEqual(["Backup Started"]);

    // Still running: nothing to emit or export yet.
    const early = await reconcile(rateEvent, lambdaContext("reconcile"));
    expect(early.followed).toEqual([expect.objectContaining({ backup: started.name, outcome: "running" })]);
    expect(early.exports).toEqual([]);

    await sandbox.clock.advance(10 * 60_000); // Velero finishes it
    const run = await reconcile(rateEvent, lambdaContext("reconcile"));
    expect(run.errors).toEqual([]);
    expect(run.followed).toEqual([
      expect.objectContaining({
        backup: started.name,
        schedule: "nightly",
        phase: "Completed",
        outcome: "emitted",
      }),
    ]);
    expect(run.exports).toEqual([{ backup: started.name, schedule: "nightly", done: true, verified: true }]);
    expect(await dep.objects()).toContain(`manifests/${started.name}.json`);
    expect(run.verify?.checks).toEqual([expect.objectContaining({ name: "nightly" })]);
    const types = (await dep.takeEvents(2)).map((e) => e["detail-type"]);
    expect(types).toEqual(expect.arrayContaining(["Backup Completed", "Export Completed"]));

    // The Heartbeat the dead man's switch watches: namespace KotsBackup, dimension service.
    const heartbeat = output
      .lines()
      .find((l) => "Heartbeat" in l && JSON.stringify(l["_aws"] ?? "").includes('"service"'));
    expect(heartbeat).toMatchObject({ service: "kots-backup", Heartbeat: 1 });
    expect(JSON.stringify(heartbeat?.["_aws"])).toContain("KotsBackup");

    // The next run emits nothing again and exports nothing again.
    const next = await reconcile(rateEvent, lambdaContext("reconcile"));
    expect(next.followed).toEqual([]);
    expect(next.exports).toEqual([]);
    expect(await dep.takeEvents(0)).toEqual([]);
    expect(output.text()).not.toContain(sandbox.serviceAccountToken);
  });

  it("an on-demand export that does not fit returns done: false, and reconcile finishes the request", async () => {
    recordOutput();
    // A backup to export (not a scheduled one: only the request brings it to reconcile).
    const backup = (await onDemand(
      { action: "backup", type: "full" } as never,
      lambdaContext("onDemand"),
    )) as {
      name: string;
    };
    await sandbox.clock.advance(10 * 60_000);
    await dep.takeEvents(1);

    // 30 s left = the graceful margin: the signal aborts at once; the export is left to reconcile.
    const partial = (await onDemand(
      { action: "export", backup: backup.name } as never,
      lambdaContext("onDemand", 30_000),
    )) as Record<string, unknown>;
    expect(partial).toMatchObject({ done: false, backup: backup.name });
    expect(await dep.objects()).toContain(`state/exports/${backup.name}.json`);

    // The abandoned copy keeps running in this process (Lambda would freeze it): let it end first.
    for (let i = 0; i < 200 && !(await dep.objects()).includes(`manifests/${backup.name}.json`); i++) {
      await sandbox.clock.advance(1_000);
      await pause(20);
    }
    const run = await reconcile(rateEvent, lambdaContext("reconcile"));
    expect(run.exports).toEqual([{ backup: backup.name, done: true, verified: true }]);
    const again = await reconcile(rateEvent, lambdaContext("reconcile"));
    expect(again.exports).toEqual([]);
    await dep.takeEvents(0);
  });

  it("stops at the graceful signal without starting the next steps", async () => {
    recordOutput();
    const run = await reconcile(rateEvent, lambdaContext("reconcile", 30_000));
    expect(run.stoppedEarly).toBe(true);
    expect(run.verify).toBeUndefined();
    expect(run.exports).toEqual([]);
  });
});

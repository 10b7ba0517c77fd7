// The handlers on the AWS services, on the moto peer (fakeDeployment): the AWS layer under this folder's
// behaviour tests, which run without AWS (localDeployment). Here only what AWS brings: the cluster
// credentials read from a Secrets Manager secret, the claims, manifests and config archives as objects in
// the stack's bucket (S3 conditional and streamed writes), the events reaching SQS through the bus's
// rule; and the envelope the local EventBridge records is the one EventBridge delivers.
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { eventBridgeChannel } from "../../packages/adapters/src/alerts/eventbridge.ts";
import { checkDown } from "../channels/fixtures.ts";
import { motoEventBridge } from "../support/aws-peers.ts";
import { type LocalEventBridge, startLocalEventBridge } from "../support/local-eventbridge.ts";
import { AWS_TEST_CREDENTIALS, AWS_TEST_REGION, describeWithMoto } from "../support/peers.ts";
import { type FakeDeployment, fakeDeployment, lambdaContext, recordOutput } from "./support.ts";

describeWithMoto("the handlers on AWS services (moto)", () => {
  let sandbox: Sandbox;
  let dep: FakeDeployment;
  let local: LocalEventBridge;
  let scheduled: typeof import("../../packages/functions/src/scheduled.ts").handler;
  let reconcile: typeof import("../../packages/functions/src/reconcile.ts").handler;
  let onDemand: typeof import("../../packages/functions/src/on-demand.ts").handler;

  beforeAll(async () => {
    sandbox = await startSandbox({ startTime: new Date() });
    dep = await fakeDeployment({ sandbox });
    local = await startLocalEventBridge();
    ({ handler: scheduled } = await import("../../packages/functions/src/scheduled.ts"));
    ({ handler: reconcile } = await import("../../packages/functions/src/reconcile.ts"));
    ({ handler: onDemand } = await import("../../packages/functions/src/on-demand.ts"));
  });
  afterAll(async () => {
    await local?.close();
    await dep?.close();
    await sandbox?.stop();
  });
  afterEach(() => vi.restoreAllMocks());

  it("scheduled then reconcile: Secrets Manager credentials, claim and manifest in the bucket, events via SQS", async () => {
    const output = recordOutput();
    expect(dep.config["cluster"]).toMatchObject({ credentials: dep.secretArn });
    expect(dep.secretArn).toMatch(/^arn:aws:secretsmanager:/);
    const scheduledTime = new Date(Math.floor(Date.now() / 60_000) * 60_000)
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const event = { schedule: "nightly", scheduledTime, executionId: "exec-aws-1" };
    const started = (await scheduled(event, lambdaContext("scheduled"))) as { name: string };
    expect(started).toMatchObject({ deduplicated: false });
    // The retry finds the claim S3 holds (a create-only write) and starts nothing.
    const retry = await scheduled({ ...event, executionId: "exec-aws-2" }, lambdaContext("scheduled"));
    expect(retry).toMatchObject({ name: started.name, deduplicated: true });
    expect(sandbox.kotsadm.backupRequestCount()).toBe(1);
    expect(await dep.objects()).toContain(`state/claims/nightly/${scheduledTime}.json`);
    expect((await dep.takeEvents(1)).map((e) => e["detail-type"])).toEqual(["Backup Started"]);

    await sandbox.clock.advance(10 * 60_000);
    const run = await reconcile({}, lambdaContext("reconcile"));
    expect(run.errors).toEqual([]);
    expect(run.exports).toEqual([{ backup: started.name, schedule: "nightly", done: true, verified: true }]);
    expect(await dep.objects()).toContain(`manifests/${started.name}.json`);
    const events = await dep.takeEvents(2);
    expect(events.map((e) => e["detail-type"])).toEqual(
      expect.arrayContaining(["Backup Completed", "Export Completed"]),
    );
    expect(events.every((e) => e.source === "kots-backup")).toBe(true);
    expect(output.text()).not.toContain(sandbox.serviceAccountToken);
  });

  it("onDemand config-download streams the app's archive into the bucket", async () => {
    recordOutput();
    const result = (await onDemand(
      { action: "config-download", app: "my-app" } as never,
      lambdaContext("onDemand"),
    )) as { key: string; bytes: number };
    expect(result.key).toMatch(/^config\/my-app\/manual-.*\.tar\.gz$/);
    expect(result.bytes).toBeGreaterThan(0);
    expect(await dep.objects()).toContain(result.key);
  });

  it("the local EventBridge records the envelope EventBridge delivers to a rule's target", async () => {
    const localClient = new EventBridgeClient({
      endpoint: local.endpoint,
      region: AWS_TEST_REGION,
      credentials: AWS_TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    await dep.takeEvents(0); // what the handlers left on the moto bus
    const localBus = "kb-conformance";
    local.createBus(localBus);
    await eventBridgeChannel({ client: localClient, busName: localBus }).send(checkDown);
    await eventBridgeChannel({ client: motoEventBridge(), busName: dep.busName }).send(checkDown);
    const [fromLocal] = await local.take(localBus, 1);
    const [fromMoto] = (await dep.takeEvents(1)) as unknown as Array<Record<string, unknown>>;
    // Event ids are random; moto's SQS target leaves out the account, which EventBridge delivers.
    const { id: _localId, account, ...localEnvelope } = fromLocal ?? {};
    const { id: _motoId, account: _motoAccount, ...motoEnvelope } = fromMoto ?? {};
    expect(localEnvelope).toEqual(motoEnvelope);
    expect(account).toMatch(/^\d{12}$/);
    expect(localEnvelope).toMatchObject({
      source: "kots-backup",
      time: checkDown.time,
      detail: checkDown.detail,
    });
  });
});

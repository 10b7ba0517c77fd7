// The `scheduled` handler through middy, with EventBridge Scheduler's input, against the sandbox (reached
// with its service-account token from an `env:` secret), state in a local folder and events on a local
// EventBridge (localDeployment: no AWS needed; the AWS services are in aws.test.ts).
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LocalDeployment, lambdaContext, localDeployment, recordOutput } from "./support.ts";

describe("scheduled handler", () => {
  let sandbox: Sandbox;
  let dep: LocalDeployment;
  let handler: typeof import("../../packages/functions/src/scheduled.ts").handler;

  beforeAll(async () => {
    sandbox = await startSandbox({ startTime: new Date() });
    dep = await localDeployment({
      sandbox,
      schedules: [
        { name: "nightly", cron: "0 2 * * *" },
        { name: "app-hourly", cron: "0 * * * *", type: "partial", app: "my-app" },
      ],
    });
    ({ handler } = await import("../../packages/functions/src/scheduled.ts"));
  });
  afterAll(async () => {
    await dep?.close();
    await sandbox?.stop();
  });
  afterEach(() => vi.restoreAllMocks());

  const slot = () =>
    new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");

  it("starts one backup per slot; a Scheduler retry of the same slot starts none", async () => {
    const output = recordOutput();
    const scheduledTime = slot();
    const event = { schedule: "nightly", scheduledTime, executionId: "exec-1" };

    const first = (await handler(event, lambdaContext("scheduled"))) as Record<string, unknown>;
    expect(first).toMatchObject({
      type: "full",
      trigger: "schedule",
      schedule: "nightly",
      slot: scheduledTime,
      deduplicated: false,
      status: "InProgress",
    });
    expect(first).not.toHaveProperty("outcome");
    expect(Object.keys(first)).toEqual(
      expect.arrayContaining([
        "name",
        "type",
        "phase",
        "status",
        "trigger",
        "schedule",
        "requestedAt",
        "errors",
        "warnings",
        "deduplicated",
      ]),
    );
    expect(sandbox.kotsadm.backupRequestCount()).toBe(1);

    // The retry (same slot, another execution id) and a duplicate delivery start nothing.
    const retry = (await handler({ ...event, executionId: "exec-2" }, lambdaContext("scheduled"))) as Record<
      string,
      unknown
    >;
    const duplicate = (await handler(event, lambdaContext("scheduled"))) as Record<string, unknown>;
    for (const again of [retry, duplicate]) {
      expect(again).toMatchObject({ name: first["name"], deduplicated: true, schedule: "nightly" });
    }
    expect(sandbox.kotsadm.backupRequestCount()).toBe(1);
    expect(sandbox.kotsadm.requests.filter((r) => r.method === "POST")).toHaveLength(1);

    // The claim is in the destination's state/, and Backup Started went on the bus once.
    expect(await dep.objects()).toContain(`state/claims/nightly/${scheduledTime}.json`);
    const events = await dep.takeEvents(1);
    expect(events.map((e) => e["detail-type"])).toEqual(["Backup Started"]);
    expect(events[0]).toMatchObject({
      source: "kots-backup",
      detail: {
        cluster: "test",
        schedule: "nightly",
        backup: first["name"],
        dedupKey: "kots-backup:test:nightly",
      },
    });

    // Powertools log lines, bound to the invocation; the token never printed.
    const lines = output.lines();
    expect(lines.some((l) => l["message"] === "scheduled run: started" && l["schedule"] === "nightly")).toBe(
      true,
    );
    expect(output.text()).not.toContain(sandbox.serviceAccountToken);
  });

  it("concurrent invocations for one slot start one backup", async () => {
    recordOutput();
    const before = sandbox.kotsadm.backupRequestCount();
    await sandbox.clock.advance(3_600_000); // the previous backup finishes; a new slot an hour later
    const scheduledTime = new Date(Date.parse(slot()) + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const results = (await Promise.all(
      [1, 2, 3, 4].map((i) =>
        handler(
          { schedule: "nightly", scheduledTime, executionId: `exec-c${i}` },
          lambdaContext("scheduled"),
        ),
      ),
    )) as Array<Record<string, unknown>>;
    expect(sandbox.kotsadm.backupRequestCount()).toBe(before + 1);
    expect(results.filter((r) => r["deduplicated"] === false)).toHaveLength(1);
    await dep.takeEvents(1);
  });

  it("rejects an unknown schedule naming the field, with no side effect", async () => {
    recordOutput();
    const before = { kotsadm: sandbox.kotsadm.requests.length, objects: await dep.objects() };
    await expect(
      handler(
        { schedule: "weekly", scheduledTime: slot(), executionId: "exec-x" },
        lambdaContext("scheduled"),
      ),
    ).rejects.toMatchObject({ code: "unknown-schedule", field: "schedule" });
    await expect(
      handler(
        { schedule: "nightly", scheduledTime: "yesterday", executionId: "exec-x" },
        lambdaContext("scheduled"),
      ),
    ).rejects.toMatchObject({ code: "invalid-event", field: "scheduledTime" });
    await expect(
      handler({ schedule: "nightly", scheduledTime: slot() } as never, lambdaContext("scheduled")),
    ).rejects.toMatchObject({ field: "executionId" });
    expect(sandbox.kotsadm.requests.length).toBe(before.kotsadm);
    expect(await dep.objects()).toEqual(before.objects);
  });

  it("a partial schedule backs up its app", async () => {
    recordOutput();
    await sandbox.clock.advance(3_600_000);
    const scheduledTime = slot();
    const result = (await handler(
      { schedule: "app-hourly", scheduledTime, executionId: "exec-p" },
      lambdaContext("scheduled"),
    )) as Record<string, unknown>;
    expect(result).toMatchObject({
      type: "partial",
      app: "my-app",
      schedule: "app-hourly",
      trigger: "schedule",
    });
    expect(
      sandbox.kotsadm.requests.some((r) => r.path.startsWith("/api/v1/app/my-app/snapshot/backup")),
    ).toBe(true);
    await dep.takeEvents(1);
  });
});

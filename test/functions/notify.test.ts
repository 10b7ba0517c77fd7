// The `notify` handler through middy with EventBridge envelopes as the bus delivers them, delivering to a
// local PagerDuty-compatible receiver (test/channels/receivers.ts), on localDeployment (no AWS needed).
import type { EventBridgeEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type PagerDutyReceiver, startPagerDuty } from "../channels/receivers.ts";
import { type LocalDeployment, lambdaContext, localDeployment, recordOutput } from "./support.ts";

const ROUTING_KEY = "N0T1FYKEY0123456789abcdefABCDEFx";

function envelope(detailType: string, detail: Record<string, unknown>): EventBridgeEvent<string, unknown> {
  return {
    version: "0",
    id: `evt-${Math.random().toString(36).slice(2)}`,
    "detail-type": detailType,
    source: "kots-backup",
    account: "123456789012",
    time: "2026-11-23T12:00:00Z",
    region: "us-east-1",
    resources: [],
    detail,
  };
}

const down = envelope("Check Down", {
  cluster: "test",
  schedule: "nightly",
  reasons: ["missed"],
  since: "2026-11-23T03:00:00Z",
  dedupKey: "kots-backup:test:nightly",
  message: "No backup of nightly since yesterday.",
});

describe("notify handler", () => {
  let pd: PagerDutyReceiver;
  let dep: LocalDeployment;
  let handler: typeof import("../../packages/functions/src/notify.ts").handler;

  beforeAll(async () => {
    pd = await startPagerDuty();
    dep = await localDeployment({
      alerts: { pagerDuty: { routingKey: "env:KB_TEST_PD_ROUTING_KEY", eventsUrl: pd.eventsUrl } },
      env: { KB_TEST_PD_ROUTING_KEY: ROUTING_KEY },
    });
    ({ handler } = await import("../../packages/functions/src/notify.ts"));
  });
  afterAll(async () => {
    await dep?.close();
    await pd?.close();
  });
  afterEach(() => vi.restoreAllMocks());

  it("delivers Check Down to PagerDuty, then Check Up resolves the same incident", async () => {
    const output = recordOutput();
    const result = await handler(down, lambdaContext("notify"));
    expect(result).toEqual({
      detailType: "Check Down",
      deliveries: [{ channel: "pagerduty", ok: true, attempts: 1 }],
    });
    expect(pd.alerts.get("kots-backup:test:nightly")).toMatchObject({ status: "triggered" });
    const body = pd.requests.at(-1)?.body as Record<string, unknown>;
    expect(body).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: "trigger",
      dedup_key: "kots-backup:test:nightly",
    });

    await handler(
      envelope("Check Up", { cluster: "test", schedule: "nightly", dedupKey: "kots-backup:test:nightly" }),
      lambdaContext("notify"),
    );
    expect(pd.alerts.get("kots-backup:test:nightly")).toMatchObject({ status: "resolved" });
    // The routing key never reaches the logs.
    expect(output.text()).not.toContain(ROUTING_KEY);
    expect(output.lines().some((l) => l["message"] === "Check Down delivered")).toBe(true);
  });

  it("skips what PagerDuty does not page on (Backup Completed)", async () => {
    recordOutput();
    const before = pd.requests.length;
    const result = await handler(
      envelope("Backup Completed", {
        cluster: "test",
        schedule: "nightly",
        backup: "b-1",
        dedupKey: "kots-backup:test:nightly",
      }),
      lambdaContext("notify"),
    );
    expect(result.deliveries).toEqual([{ channel: "pagerduty", ok: true, attempts: 0, skipped: true }]);
    expect(pd.requests.length).toBe(before);
  });

  it("fails the invocation (EventBridge retries) only when a channel failed retryably", async () => {
    const output = recordOutput();
    // 429 with a Retry-After beyond deliver()'s limit: retryable, and deliver stops at once.
    pd.script({ status: 429, headers: { "retry-after": "600" }, body: "{}" });
    await expect(handler(down, lambdaContext("notify"))).rejects.toMatchObject({
      code: "alert-delivery-failed",
    });

    // 400: PagerDuty refuses the event for good; a retry would not help: logged, not failed.
    pd.script({
      status: 400,
      body: JSON.stringify({ status: "invalid event", message: "Event object is invalid" }),
    });
    const refused = await handler(down, lambdaContext("notify"));
    expect(refused.deliveries).toEqual([
      expect.objectContaining({ channel: "pagerduty", ok: false, attempts: 1 }),
    ]);
    expect(output.text()).not.toContain(ROUTING_KEY);
  });

  it("rejects an envelope that is not a kots-backup event, naming the field", async () => {
    recordOutput();
    const before = pd.requests.length;
    await expect(handler({ ...down, source: "aws.s3" }, lambdaContext("notify"))).rejects.toMatchObject({
      code: "invalid-event",
      field: "source",
    });
    await expect(
      handler({ ...down, "detail-type": "Check Sideways" }, lambdaContext("notify")),
    ).rejects.toMatchObject({
      field: "detail-type",
    });
    await expect(
      handler({ ...down, detail: { cluster: "test" } }, lambdaContext("notify")),
    ).rejects.toMatchObject({ field: "detail.dedupKey" });
    expect(pd.requests.length).toBe(before);
  });
});

import { DetailType, InputError } from "@kots-backup/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliver } from "../../packages/adapters/src/alerts/channel.ts";
import {
  pagerDutyChannel,
  pagerDutyDedupKey,
  pagerDutyEvent,
} from "../../packages/adapters/src/alerts/pagerduty.ts";
import { Secret } from "../../packages/adapters/src/secrets/secret.ts";
import { backupFailed, checkDown, checkUp, event, exportFailed } from "./fixtures.ts";
import { type PagerDutyReceiver, pagerDutyProblems, startPagerDuty } from "./receivers.ts";

const ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF";
const noSleep = async () => {};

describe("PagerDuty channel against a local Events API v2", () => {
  let pd: PagerDutyReceiver;
  const channel = () =>
    pagerDutyChannel({ routingKey: new Secret(ROUTING_KEY, "env:PD_ROUTING_KEY"), eventsUrl: pd.eventsUrl });

  beforeAll(async () => {
    pd = await startPagerDuty();
  });
  afterAll(() => pd.close());

  it("triggers on Check Down and resolves the same alert on Check Up", async () => {
    const [down] = await deliver([channel()], checkDown, { sleep: noSleep });
    expect(down).toEqual({ channel: "pagerduty", ok: true, attempts: 1 });
    const alert = pd.alerts.get("kots-backup:prod-east:nightly");
    expect(alert).toMatchObject({ status: "triggered", severity: "critical", source: "prod-east" });
    expect(alert?.summary).toContain("is DOWN");
    expect(alert?.customDetails).toMatchObject({
      reasons: ["missed", "export-missing"],
      since: "2025-03-04T02:00:00Z",
    });

    const [up] = await deliver([channel()], checkUp, { sleep: noSleep });
    expect(up?.ok).toBe(true);
    expect(pd.alerts.get("kots-backup:prod-east:nightly")).toMatchObject({
      status: "resolved",
      actions: ["trigger", "resolve"],
    });
    const last = pd.requests.at(-1)?.body as Record<string, unknown>;
    expect(last).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: "kots-backup:prod-east:nightly",
    });
  });

  it("pages only on incidents by default: a failed backup reaches on-call as its Check Down", async () => {
    const results = await deliver([channel()], backupFailed, { sleep: noSleep });
    expect(results).toEqual([expect.objectContaining({ ok: true, skipped: true })]);
    expect(pd.alerts.has("kots-backup:prod-east:nightly:backup-failed:instance-xyz89")).toBe(false);
  });

  it("opens one alert per failed backup when configured to, and deduplicates a repeat of the same failure", async () => {
    const failures = () =>
      pagerDutyChannel({
        routingKey: new Secret(ROUTING_KEY, "env:PD_ROUTING_KEY"),
        eventsUrl: pd.eventsUrl,
        detailTypes: [DetailType.backupFailed, DetailType.exportFailed],
      });
    const other = event(DetailType.backupFailed, { backup: "instance-other" });
    const results = [
      ...(await deliver([failures()], backupFailed, { sleep: noSleep })),
      ...(await deliver([failures()], backupFailed, { sleep: noSleep })),
      ...(await deliver([failures()], other, { sleep: noSleep })),
      ...(await deliver([failures()], exportFailed, { sleep: noSleep })),
    ];
    expect(results.every((r) => r.ok)).toBe(true);
    const first = pd.alerts.get("kots-backup:prod-east:nightly:backup-failed:instance-xyz89");
    expect(first).toMatchObject({ status: "triggered", severity: "error", actions: ["trigger", "trigger"] });
    expect(pd.alerts.get("kots-backup:prod-east:nightly:backup-failed:instance-other")?.status).toBe(
      "triggered",
    );
    expect(pd.alerts.get("kots-backup:prod-east:nightly:export-failed:instance-xyz90")?.severity).toBe(
      "error",
    );
  });

  it("sends bodies the real API accepts even for very long text and keys", async () => {
    const long = event(DetailType.backupFailed, {
      backup: "b".repeat(300),
      error: "e".repeat(4000),
      dedupKey: `kots-backup:${"c".repeat(260)}`,
    });
    const body = pagerDutyEvent(long, ROUTING_KEY);
    expect(pagerDutyProblems(body)).toEqual([]);
    expect(body.dedup_key.length).toBe(255);
    expect(pagerDutyDedupKey(long)).toBe(body.dedup_key);
    expect(body.payload?.summary.length).toBe(1024);
    const [result] = await deliver([channel()], long, { sleep: noSleep });
    expect(result?.ok).toBe(true);
  });

  it("does not send detail types it was not asked to", async () => {
    const before = pd.requests.length;
    const [result] = await deliver([channel()], event(DetailType.backupCompleted, { backup: "x" }), {
      sleep: noSleep,
    });
    expect(result).toEqual({ channel: "pagerduty", ok: true, attempts: 0, skipped: true });
    expect(pd.requests.length).toBe(before);
  });

  it("refuses a routing key that is not 32 characters, naming its reference only", () => {
    const make = () => pagerDutyChannel({ routingKey: new Secret("short-key-value", "env:PD_KEY") });
    expect(make).toThrow(InputError);
    expect(make).toThrow(/env:PD_KEY/);
    expect(make).not.toThrow(/short-key-value/);
    expect(() =>
      pagerDutyChannel({ routingKey: new Secret(ROUTING_KEY), detailTypes: [DetailType.backupCompleted] }),
    ).toThrow(/cannot send Backup Completed/);
  });

  it("reports the API's 400 answer without retrying", async () => {
    pd.script({
      status: 400,
      body: JSON.stringify({
        status: "invalid event",
        message: "Event object is invalid",
        errors: ["'payload.severity' is missing or invalid"],
      }),
    });
    const before = pd.requests.length;
    const [result] = await deliver([channel()], checkDown, { sleep: noSleep });
    expect(result).toMatchObject({ channel: "pagerduty", ok: false, attempts: 1 });
    expect(result?.error).toContain("HTTP 400");
    expect(result?.error).toContain("Event object is invalid");
    expect(result?.error).toContain("not retryable");
    expect(pd.requests.length).toBe(before + 1);
  });
});

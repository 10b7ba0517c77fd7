// Retry behaviour of deliver(), against real local HTTP receivers. The sleep between attempts is
// injected and recorded (no wall-clock assertions); only the per-attempt timeout uses real time.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHANNEL_RETRY_POLICY, type Channel, deliver } from "../../packages/adapters/src/alerts/channel.ts";
import { DeliveryError } from "../../packages/adapters/src/alerts/errors.ts";
import { pagerDutyChannel } from "../../packages/adapters/src/alerts/pagerduty.ts";
import { webhookChannel } from "../../packages/adapters/src/alerts/webhook.ts";
import { backoffDelay, parseRetryAfter } from "../../packages/adapters/src/retry.ts";
import { Secret } from "../../packages/adapters/src/secrets/secret.ts";
import { checkDown } from "./fixtures.ts";
import { type PagerDutyReceiver, type Receiver, startPagerDuty, startRecorder } from "./receivers.ts";

const ROUTING_KEY = "0123456789abcdef0123456789ABCDEF";

function recorder() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

describe("deliver", () => {
  let pd: PagerDutyReceiver;
  let ok: Receiver;
  let failing: Receiver;
  let hanging: Receiver;

  beforeAll(async () => {
    [pd, ok, failing, hanging] = await Promise.all([
      startPagerDuty(),
      startRecorder(200),
      startRecorder(500, "boom"),
      startRecorder(200),
    ]);
  });
  afterAll(() => Promise.all([pd, ok, failing, hanging].map((r) => r.close())));
  afterEach(() => {
    for (const r of [pd, ok, failing, hanging]) r.requests.length = 0;
  });

  const pagerDuty = () => pagerDutyChannel({ routingKey: new Secret(ROUTING_KEY), eventsUrl: pd.eventsUrl });
  const hook = (receiver: Receiver, name = "webhook") =>
    webhookChannel({ url: new Secret(`${receiver.url}/hook`), name });

  it("delivers on the 3rd attempt after two 503s, backing off with jitter in between", async () => {
    pd.script({ status: 503 }, { status: 503 });
    const { sleeps, sleep } = recorder();
    const [result] = await deliver([pagerDuty()], checkDown, { sleep, random: () => 0.5 });
    expect(result).toEqual({ channel: "pagerduty", ok: true, attempts: 3 });
    expect(pd.requests).toHaveLength(3);
    expect(pd.alerts.get(checkDown.detail.dedupKey)?.status).toBe("triggered");
    expect(sleeps).toEqual([500, 1000]); // bounds 1 s, 2 s; full jitter at random 0.5
  });

  it("gives up on an always-500 channel after the bounded attempts while the others deliver", async () => {
    const { sleeps, sleep } = recorder();
    const results = await deliver([hook(failing, "broken"), hook(ok, "fine"), pagerDuty()], checkDown, {
      sleep,
      random: () => 1,
    });
    expect(results[0]).toMatchObject({
      channel: "broken",
      ok: false,
      attempts: CHANNEL_RETRY_POLICY.maxAttempts,
    });
    expect(results[0]?.error).toContain("HTTP 500: boom");
    expect(results[0]?.error).toContain("gave up after 4 attempts");
    expect(results[1]).toEqual({ channel: "fine", ok: true, attempts: 1 });
    expect(results[2]).toEqual({ channel: "pagerduty", ok: true, attempts: 1 });
    expect(failing.requests).toHaveLength(4);
    expect(sleeps).toEqual([1000, 2000, 4000]);
  });

  it("does not retry a 400", async () => {
    ok.script({ status: 400, body: "invalid_payload" });
    const { sleeps, sleep } = recorder();
    const [result] = await deliver([hook(ok)], checkDown, { sleep });
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    expect(result?.error).toContain("HTTP 400: invalid_payload");
    expect(sleeps).toEqual([]);
    expect(ok.requests).toHaveLength(1);
  });

  it("waits exactly as long as a 429's Retry-After asks", async () => {
    pd.script({ status: 429, headers: { "retry-after": "7" }, body: "{}" });
    const { sleeps, sleep } = recorder();
    const [result] = await deliver([pagerDuty()], checkDown, { sleep });
    expect(result).toEqual({ channel: "pagerduty", ok: true, attempts: 2 });
    expect(sleeps).toEqual([7000]);
  });

  it("stops when Retry-After is longer than the policy allows", async () => {
    ok.script({ status: 429, headers: { "retry-after": "3600" } });
    const { sleeps, sleep } = recorder();
    const [result] = await deliver([hook(ok)], checkDown, { sleep });
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    expect(result?.error).toContain("over the 60 s limit");
    expect(sleeps).toEqual([]);
  });

  it("aborts an attempt that hangs after the per-attempt timeout and retries it", async () => {
    hanging.script("hang", "hang");
    const { sleeps, sleep } = recorder();
    const [result] = await deliver([hook(hanging, "slow")], checkDown, {
      sleep,
      policy: { attemptTimeoutMs: 200, maxAttempts: 3 },
    });
    expect(result).toEqual({ channel: "slow", ok: true, attempts: 3 });
    expect(hanging.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it("reports a channel that always hangs as timed out", async () => {
    hanging.script("hang", "hang");
    const [result] = await deliver([hook(hanging, "slow")], checkDown, {
      sleep: async () => {},
      policy: { attemptTimeoutMs: 150, maxAttempts: 2 },
    });
    expect(result).toMatchObject({ channel: "slow", ok: false, attempts: 2 });
    expect(result?.error).toMatch(/timed out/);
  });

  it("retries a refused connection and reports it by its code", async () => {
    const closed = await startRecorder();
    const url = closed.url;
    await closed.close();
    const channel = webhookChannel({ url: new Secret(`${url}/x`), name: "gone" });
    const { sleeps, sleep } = recorder();
    const [result] = await deliver([channel], checkDown, { sleep, policy: { maxAttempts: 2 } });
    expect(result).toMatchObject({ channel: "gone", ok: false, attempts: 2 });
    expect(result?.error).toContain("ECONNREFUSED");
    expect(sleeps).toHaveLength(1);
  });

  it("isolates a channel that throws an unexpected error, without retrying it", async () => {
    const buggy: Channel = {
      name: "buggy",
      send: () => {
        throw new TypeError("cannot read properties of undefined");
      },
    };
    const results = await deliver([buggy, hook(ok)], checkDown, { sleep: async () => {} });
    expect(results[0]).toMatchObject({ channel: "buggy", ok: false, attempts: 1 });
    expect(results[0]?.error).toContain("TypeError: cannot read properties of undefined");
    expect(results[1]?.ok).toBe(true);
  });

  it("retries a retryable DeliveryError from any channel and logs each failed attempt", async () => {
    let calls = 0;
    const flaky: Channel = {
      name: "flaky",
      send: async () => {
        calls += 1;
        if (calls < 2) throw new DeliveryError("flaky", "ThrottlingException", { retryable: true });
      },
    };
    const lines: string[] = [];
    const [result] = await deliver([flaky], checkDown, {
      sleep: async () => {},
      random: () => 1,
      log: (l) => lines.push(`${l.level} ${l.channel}#${l.attempt} ${l.message}`),
    });
    expect(result).toEqual({ channel: "flaky", ok: true, attempts: 2 });
    expect(lines).toEqual(["warn flaky#1 flaky: ThrottlingException; retrying in 1000 ms"]);
  });
});

describe("channel backoff", () => {
  it("doubles from 1 s up to the 30 s cap, fully jittered below that bound", () => {
    const p = CHANNEL_RETRY_POLICY;
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, p, () => 0.999999))).toEqual([
      999, 1999, 3999, 7999, 15999, 29999, 29999,
    ]);
    expect([1, 2, 6].map((a) => backoffDelay(a, p, () => 0))).toEqual([0, 0, 0]);
  });
});

describe("parseRetryAfter", () => {
  it("reads delay-seconds and HTTP-dates, and ignores garbage", () => {
    const now = Date.parse("2025-03-04T05:06:07Z");
    expect(parseRetryAfter("30", now)).toBe(30_000);
    expect(parseRetryAfter("Tue, 04 Mar 2025 05:06:17 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Tue, 04 Mar 2025 05:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

// Alert channel faults across verify runs, with the real channels (PagerDuty Events v2, Slack,
// webhook) against local receivers: receivers answering 5xx or not answering are retried; a channel
// that stays down is retried by later runs alone; 100 verify runs while a check is down page once;
// recovery resolves exactly once; concurrent runs page once. Every body the receivers got is added to
// the run's capture (the routing key field of PagerDuty bodies removed: sending it there is the point),
// so the secret scan checks that no other secret travels in an alert.

import {
  type Channel,
  deliver,
  pagerDutyChannel,
  slackChannel,
  webhookChannel,
} from "@kots-backup/adapters/alerts/index";
import { Secret } from "@kots-backup/adapters/secrets/secret";
import { type DeliverPort, runVerify } from "@kots-backup/core/usecases/verify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type PagerDutyReceiver,
  type Receiver,
  startPagerDuty,
  startRecorder,
  startSlack,
} from "../channels/receivers.ts";
import { recordCaptured } from "../support/capture.ts";
import { addMinutes, at, harness, schedule, writeManifest } from "../verify/support.ts";
import { defineSecretScan } from "./support/secret-scan.ts";
import { registerSecrets, STATIC_SECRETS } from "./support/secrets.ts";

const RUNS_WHILE_DOWN = 100;
const nightly = schedule({ name: "nightly", cron: "0 2 * * *" });

let pd: PagerDutyReceiver;
let slack: Receiver;
let hook: Receiver;
let channels: Channel[];
const log: string[] = [];

beforeAll(async () => {
  pd = await startPagerDuty();
  slack = await startSlack();
  hook = await startRecorder(200, "ok");
  const slackUrl = `${slack.url}/services/${STATIC_SECRETS.slackToken}`;
  const hookUrl = `${hook.url}/hooks/${STATIC_SECRETS.webhookToken}`;
  registerSecrets("alert urls", slackUrl, hookUrl);
  channels = [
    pagerDutyChannel({
      routingKey: new Secret(STATIC_SECRETS.pagerDutyRoutingKey, "env:KB_REL_PD_ROUTING_KEY"),
      eventsUrl: pd.eventsUrl,
    }),
    slackChannel({ webhookUrl: new Secret(slackUrl, "env:KB_REL_SLACK_URL") }),
    webhookChannel({
      url: new Secret(hookUrl, "env:KB_REL_WEBHOOK_URL"),
      headers: { Authorization: new Secret(`Bearer ${STATIC_SECRETS.webhookToken}`) },
    }),
  ];
});
afterAll(async () => {
  await Promise.all([pd.close(), slack.close(), hook.close()]);
});

/** The real delivery (deliver(): bounded retries, per-attempt timeout), without waiting between tries. */
const port: DeliverPort = async (event, only) => {
  const results = await deliver(
    channels.filter((c) => !only || only.includes(c.name)),
    event,
    {
      policy: { attemptTimeoutMs: 300 },
      sleep: async () => {},
      log: (line) => log.push(`alert channel ${line.channel}, attempt ${line.attempt}: ${line.message}`),
    },
  );
  return results.map((r) => ({ channel: r.channel, ok: r.ok, ...(r.error ? { error: r.error } : {}) }));
};

const actions = (receiver: PagerDutyReceiver, action: string) =>
  receiver.requests.filter((r) => (r.body as { event_action?: string } | undefined)?.event_action === action)
    .length;
const detailTypes = (receiver: Receiver) =>
  receiver.requests
    .map((r) => JSON.stringify(r.body ?? r.raw))
    .filter((b) => /Check (Down|Up)|is down|is up|back up/i.test(b));

describe("alert channels failing across verify runs", () => {
  const h = harness();
  const deps = (now: Date) => h.deps(now, { deliver: port, channels: channels.map((c) => c.name) });

  it(`pages once through 5xx, a timeout and a channel that stays down for ${RUNS_WHILE_DOWN} runs, then resolves once`, async () => {
    await runVerify([nightly], deps(at("2026-03-01T12:30:00Z")));
    // PagerDuty answers 503 twice, Slack does not answer once, the webhook is down (500) for a while.
    pd.script({ status: 503 }, { status: 502 });
    slack.script("hang");
    const hookDown = Array.from({ length: 40 }, () => ({ status: 500 }));
    hook.script(...hookDown);

    let now = at("2026-03-02T03:00:00Z");
    const states: string[] = [];
    for (let i = 0; i < RUNS_WHILE_DOWN; i++) {
      const run = await runVerify([nightly], deps(now));
      states.push(run.report.checks[0]?.state ?? "?");
      now = addMinutes(now, 1);
    }
    expect(new Set(states)).toEqual(new Set(["down"]));
    // PagerDuty: 2 refused + 1 accepted trigger, and one alert open; no second page in 100 runs.
    expect(actions(pd, "trigger")).toBe(3);
    expect([...pd.alerts.values()].map((a) => a.status)).toEqual(["triggered"]);
    // Slack: the hung attempt was aborted and retried: two posts, one message delivered.
    expect(slack.requests).toHaveLength(2);
    // The webhook got its Check Down once it came back, and nothing after that.
    const hookDelivered = hook.requests.length - hookDown.length;
    expect(hookDelivered).toBe(1);
    expect(hook.requests.length).toBeGreaterThan(hookDown.length);
    // The webhook's retries never re-sent to the channels that already had the page.
    expect(actions(pd, "trigger")).toBe(3);

    // Recovery: a good backup and its export; ten runs, one resolve, one Check Up per channel.
    const b = h.cluster.addFull("instance-late", now);
    await writeManifest(h.destination, b, addMinutes(now, 20));
    now = addMinutes(now, 30);
    for (let i = 0; i < 10; i++) {
      const run = await runVerify([nightly], deps(now));
      expect(run.report.checks[0]?.state).toBe("up");
      now = addMinutes(now, 1);
    }
    expect(actions(pd, "resolve")).toBe(1);
    expect([...pd.alerts.values()].map((a) => a.status)).toEqual(["resolved"]);
    expect(slack.requests).toHaveLength(3);
    expect(hook.requests.length - hookDown.length).toBe(2);
    expect(detailTypes(hook)).toHaveLength(hook.requests.length);
  });

  it("ten concurrent verify runs while a check goes down send one page", async () => {
    const h2 = harness();
    const d = (now: Date) => h2.deps(now, { deliver: port, channels: channels.map((c) => c.name) });
    const before = { pd: actions(pd, "trigger"), slack: slack.requests.length, hook: hook.requests.length };
    await runVerify([schedule({ name: "weekly", cron: "0 3 * * 0" })], d(at("2026-03-01T00:30:00Z")));
    const runs = await Promise.all(
      Array.from({ length: 10 }, () =>
        runVerify([schedule({ name: "weekly", cron: "0 3 * * 0" })], d(at("2026-03-01T05:00:00Z"))),
      ),
    );
    expect(runs.every((r) => r.report.checks[0]?.state === "down")).toBe(true);
    expect(actions(pd, "trigger") - before.pd).toBe(1);
    expect(slack.requests.length - before.slack).toBe(1);
    expect(hook.requests.length - before.hook).toBe(1);
  });

  it("no alert body carries a secret other than the channel's own credential", () => {
    const others = [STATIC_SECRETS.s3SecretAccessKey, STATIC_SECRETS.slackToken, STATIC_SECRETS.webhookToken];
    for (const request of pd.requests) {
      const body = structuredClone(request.body) as Record<string, unknown>;
      expect(body["routing_key"]).toBe(STATIC_SECRETS.pagerDutyRoutingKey);
      delete body["routing_key"];
      for (const s of [...others, STATIC_SECRETS.pagerDutyRoutingKey])
        expect(JSON.stringify(body)).not.toContain(s);
    }
    for (const request of [...slack.requests, ...hook.requests]) {
      for (const s of [...others, STATIC_SECRETS.pagerDutyRoutingKey]) expect(request.raw).not.toContain(s);
    }
    expect(log.length).toBeGreaterThan(0);
    for (const line of log)
      for (const s of [...others, STATIC_SECRETS.pagerDutyRoutingKey]) expect(line).not.toContain(s);
    // The receivers' bodies go to the run's record for the secret scan (PagerDuty's routing_key is
    // where the key belongs; everything else in the body must be free of secrets).
    for (const r of [pd, slack, hook]) {
      for (const request of r.requests) {
        const body = structuredClone(request.body) as Record<string, unknown> | undefined;
        if (body && typeof body === "object") delete body["routing_key"];
        recordCaptured(
          `alert body ${request.path.replace(/\/(services|hooks)\/.*/, "/$1/<token>")}: ${JSON.stringify(body ?? request.raw)}`,
        );
      }
    }
    recordCaptured(log.join("\n"));
  });
});

defineSecretScan("alerts");

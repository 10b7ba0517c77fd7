// A simulated 30 days, 2026-10-10 → 2026-11-09, across the Europe/Paris autumn DST change (2026-10-25):
// a daily full schedule and an hourly partial one, with a missed slot, a failed backup, a stuck backup,
// an unavailable BSL, a failed export, and healthy days in between. The world (scheduler, Velero,
// exporter) is simulated from a precomputed plan; verify runs every 5 minutes of simulated time with
// in-memory stores, and its events go to the real peers: EventBridge on moto (rule → SQS), and local
// PagerDuty- and Slack-compatible receivers.
// For each incident: exactly one Check Down within [down instant, + verify interval], exactly one
// Check Up within [recovery instant, + verify interval]; nothing else, so no page on healthy days.
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { deliver } from "@kots-backup/adapters/alerts/channel";
import { eventBridgeChannel } from "@kots-backup/adapters/alerts/eventbridge";
import { pagerDutyChannel } from "@kots-backup/adapters/alerts/pagerduty";
import { slackChannel } from "@kots-backup/adapters/alerts/slack";
import { Secret } from "@kots-backup/adapters/secrets/secret";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import { slotsBetween } from "@kots-backup/core/schedule";
import { aBackup } from "@kots-backup/core/testing";
import { type DeliverPort, runVerify } from "@kots-backup/core/usecases/verify";
import type { VeleroBackup } from "@kots-backup/core/velero";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type PagerDutyReceiver, type Receiver, startPagerDuty, startSlack } from "../channels/receivers.ts";
import { busToQueue, receiveAll } from "../support/aws-peers.ts";
import { describeWithMoto } from "../support/peers.ts";
import { APP, harness, manifestFor, NAMESPACE, schedule } from "./support.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const VERIFY_EVERY = 5 * MIN;
const START = Date.parse("2026-10-10T00:00:00Z");
const END = START + 30 * DAY;
const t = (text: string) => Date.parse(text);

const nightly = schedule({
  name: "nightly",
  cron: "0 2 * * *",
  timezone: "Europe/Paris",
  type: "full",
  grace: HOUR,
  maxDuration: 4 * HOUR,
  export: true,
  exportGrace: 2 * HOUR,
});
const hourly = schedule({
  name: "hourly",
  cron: "0 * * * *",
  timezone: "Europe/Paris",
  type: "partial",
  app: APP.slug,
  grace: 30 * MIN,
  maxDuration: 45 * MIN,
  export: false,
});

/** One backup of the plan: visible from `at`, InProgress until `end`, then `phase`. */
interface Planned {
  name: string;
  kind: "full" | "partial";
  at: number;
  end: number;
  phase: string;
  /** When its manifest is written (verified export), if ever. */
  exportAt?: number;
  ttl: number;
}

/** BSL Unavailable in [from, to). */
const BSL_DOWN = { from: t("2026-10-23T08:00:00Z"), to: t("2026-10-23T12:00:00Z") };

function plan(): Planned[] {
  const out: Planned[] = [];
  // Nightly slots exactly as EventBridge Scheduler fires them (DST rule in schedule.ts).
  for (const slot of slotsBetween(nightly, new Date(START), new Date(END))) {
    const at = slot.getTime();
    const name = `instance-${new Date(at).toISOString().slice(0, 10).replaceAll("-", "")}`;
    if (at === t("2026-10-14T00:00:00Z")) continue; // 1. missed: nothing fired
    if (at === t("2026-10-20T00:00:00Z")) {
      // 3. stuck: InProgress for 6 h (maxDuration 4 h), then Completed and exported.
      out.push({
        name,
        kind: "full",
        at,
        end: at + 6 * HOUR,
        phase: "Completed",
        exportAt: at + 6 * HOUR + 15 * MIN,
        ttl: 30 * DAY,
      });
      continue;
    }
    const end = at + 10 * MIN;
    // 5. failed export: the 2026-10-27 backup (after the DST change) is never exported…
    const exportAt = at === t("2026-10-27T01:00:00Z") ? t("2026-10-27T10:00:00Z") : end + 15 * MIN;
    out.push({ name, kind: "full", at, end, phase: "Completed", exportAt, ttl: 30 * DAY });
  }
  // 1. …recovered by a backup taken by hand.
  out.push({
    name: "instance-manual1",
    kind: "full",
    at: t("2026-10-14T09:00:00Z"),
    end: t("2026-10-14T09:10:00Z"),
    phase: "Completed",
    exportAt: t("2026-10-14T09:25:00Z"),
    ttl: 30 * DAY,
  });
  for (const slot of slotsBetween(hourly, new Date(START), new Date(END))) {
    const at = slot.getTime();
    const name = `${APP.slug}-${new Date(at).toISOString().slice(0, 13).replaceAll(/[-T]/g, "")}`;
    let phase = "Completed";
    let end = at + 2 * MIN;
    if (at === t("2026-10-17T10:00:00Z")) phase = "Failed"; // 2. failed backup
    if (at >= BSL_DOWN.from && at < BSL_DOWN.to) {
      phase = "FailedValidation"; // 4. the BSL is Unavailable: Velero refuses backups
      end = at + MIN;
    }
    out.push({ name, kind: "partial", at, end, phase, ttl: 2 * DAY });
  }
  return out;
}

/** Expected incidents: [schedule, down at, recovered at]. */
const INCIDENTS: [string, string, string][] = [
  ["nightly", "2026-10-14T01:00:00Z", "2026-10-14T09:25:00Z"], // missed 02:00 CEST slot + 1 h grace; manual backup, once exported
  ["hourly", "2026-10-17T10:02:00Z", "2026-10-17T11:00:00Z"], // failed; next hourly backup requested
  ["nightly", "2026-10-20T04:00:00Z", "2026-10-20T06:15:00Z"], // stuck past 4 h; completed, then exported
  ["hourly", "2026-10-23T08:01:00Z", "2026-10-23T12:00:00Z"], // FailedValidation (BSL), then BSL back
  ["nightly", "2026-10-23T09:00:00Z", "2026-10-23T12:00:00Z"], // bsl-unavailable after 1 h grace
  ["nightly", "2026-10-27T03:10:00Z", "2026-10-27T10:00:00Z"], // export missing 2 h after completion; re-exported
];

function veleroBackup(p: Planned, now: number): VeleroBackup {
  const b = aBackup(p.name).requestedAt(new Date(p.at)).startedAt(new Date(p.at));
  if (p.kind === "full") b.instance(NAMESPACE).scheduled();
  else b.app(APP.id);
  if (now >= p.end) b.phase(p.phase).completedAt(new Date(p.end));
  else b.phase("InProgress");
  return b.build();
}

async function receiveEvents(
  sqs: SQSClient,
  url: string,
  expected: number,
): Promise<Record<string, unknown>[]> {
  return (await receiveAll(sqs, url, expected)).map((b) => JSON.parse(b || "{}") as Record<string, unknown>);
}

describeWithMoto("verify over a simulated 30-day timeline", () => {
  let pd: PagerDutyReceiver;
  let slack: Receiver;
  let sqs: SQSClient;
  let queueUrl: string;
  let busName: string;
  let eb: EventBridgeClient;

  beforeAll(async () => {
    pd = await startPagerDuty();
    slack = await startSlack();
    let queue: { url: string };
    ({ eb, sqs, busName, queue } = await busToQueue(
      JSON.stringify({ source: ["kots-backup"], "detail-type": ["Check Down", "Check Up"] }),
    ));
    queueUrl = queue.url;
  });
  afterAll(async () => {
    await pd?.close();
    await slack?.close();
  });

  // 8,640 verify runs: CPU-bound, about 15 s of CPU, which a loaded 2-core CI machine stretches to minutes.
  it("pages once per incident within grace + the verify interval, resolves once, and is quiet otherwise", {
    timeout: 360_000,
  }, async () => {
    // Prepare
    const h = harness(new MemoryStore("dest"));
    const channels = [
      eventBridgeChannel({ client: eb, busName }),
      pagerDutyChannel({
        routingKey: new Secret("R0UT1NGKEY0123456789abcdefABCDEF", "env:PD"),
        eventsUrl: pd.eventsUrl,
      }),
      slackChannel({ webhookUrl: new Secret(`${slack.url}/services/T/B/timeline`, "env:SLACK") }),
    ];
    const port: DeliverPort = async (event, only) =>
      (
        await deliver(
          channels.filter((c) => !only || only.includes(c.name)),
          event,
        )
      ).map((r) => ({
        channel: r.channel,
        ok: r.ok,
        ...(r.error ? { error: r.error } : {}),
      }));
    const planned = plan();
    // The DST change as the scheduler fires it: Paris's 25-hour day has 24 hourly slots (the repeated
    // 02:00 fires once), and the nightly 02:00 slot fires at its first occurrence (00:00Z).
    expect(
      slotsBetween(hourly, new Date("2026-10-24T22:00:00Z"), new Date("2026-10-25T23:00:00Z")),
    ).toHaveLength(24);
    expect(planned.some((p) => p.name === "instance-20261025" && p.at === t("2026-10-25T00:00:00Z"))).toBe(
      true,
    );
    const written = new Set<string>();
    const emitted: { time: number; type: string; schedule: string; reasons: string[] }[] = [];
    let states = 0;

    // Act: every 5 minutes, move the world to `now`, then verify.
    for (let now = START; now < END; now += VERIFY_EVERY) {
      h.cluster.backups = planned
        .filter((p) => p.at <= now && now < p.at + p.ttl)
        .map((p) => veleroBackup(p, now));
      h.cluster.bslPhase = now >= BSL_DOWN.from && now < BSL_DOWN.to ? "Unavailable" : "Available";
      for (const p of planned) {
        if (p.exportAt !== undefined && p.exportAt <= now && now < p.at + p.ttl && !written.has(p.name)) {
          written.add(p.name);
          const backup = veleroBackup(p, now);
          await h.destination.put(
            `manifests/${p.name}.json`,
            JSON.stringify(manifestFor(backup, new Date(p.exportAt))),
          );
        }
      }
      const run = await runVerify(
        [nightly, hourly],
        h.deps(new Date(now), { deliver: port, channels: channels.map((c) => c.name) }),
      );
      states += run.report.checks.length;
      for (const d of run.deliveries)
        expect(
          d.outcomes.every((o) => o.ok),
          JSON.stringify(d),
        ).toBe(true);
      for (const tr of run.transitions) {
        for (const e of tr.events)
          emitted.push({
            time: now,
            type: e.detailType,
            schedule: tr.schedule,
            reasons: e.detail.reasons ?? [],
          });
      }
    }

    // Assess: the events verify recorded, incident by incident.
    expect(states).toBe((2 * (END - START)) / VERIFY_EVERY);
    const bySchedule = (name: string) => emitted.filter((e) => e.schedule === name);
    for (const name of ["nightly", "hourly"]) {
      const expected = INCIDENTS.filter(([s]) => s === name);
      const events = bySchedule(name);
      expect(
        events.map((e) => e.type),
        name,
      ).toEqual(expected.flatMap(() => ["Check Down", "Check Up"]));
      expected.forEach(([, down, up], i) => {
        const d = events[2 * i]!;
        const u = events[2 * i + 1]!;
        expect(d.time, `${name} down ${down}`).toBeGreaterThanOrEqual(t(down));
        expect(d.time, `${name} down ${down}`).toBeLessThanOrEqual(t(down) + VERIFY_EVERY);
        expect(u.time, `${name} up ${up}`).toBeGreaterThanOrEqual(t(up));
        expect(u.time, `${name} up ${up}`).toBeLessThanOrEqual(t(up) + VERIFY_EVERY);
      });
    }
    expect(
      emitted.filter((e) => e.type === "Check Down").map((e) => `${e.schedule}:${e.reasons.join("+")}`),
    ).toEqual([
      "nightly:missed",
      "hourly:failed",
      "nightly:stuck",
      "hourly:bsl-unavailable+failed", // the BSL's grace is still running: listed, not yet the cause
      "nightly:bsl-unavailable",
      "nightly:export-missing",
    ]);
    // No page on the DST day or any other healthy day.
    const incidentDays = new Set(INCIDENTS.map(([, down]) => down.slice(0, 10)));
    expect(emitted.filter((e) => !incidentDays.has(new Date(e.time).toISOString().slice(0, 10)))).toEqual([]);

    // The messages, as each peer received them.
    const total = 2 * INCIDENTS.length;
    const onBus = await receiveEvents(sqs, queueUrl, total);
    expect(onBus).toHaveLength(total);
    expect(
      onBus.map((b) => `${b["detail-type"]}:${(b.detail as { schedule: string }).schedule}`).sort(),
    ).toEqual(emitted.map((e) => `${e.type}:${e.schedule}`).sort());
    // Each Check Down on the bus says since when: the instant the incident began (the table above).
    const downsOnBus = onBus
      .filter((b) => b["detail-type"] === "Check Down")
      .map((b) => b.detail as { schedule: string; since: string })
      .map((d) => `${d.schedule}@${d.since}`)
      .sort();
    expect(downsOnBus).toEqual(INCIDENTS.map(([s, down]) => `${s}@${down}`).sort());
    for (const b of onBus) {
      expect(b.source).toBe("kots-backup");
      const detail = b.detail as Record<string, unknown>;
      expect(detail.dedupKey).toBe(`kots-backup:prod:${detail.schedule}`);
      expect(detail.cluster).toBe("prod");
      expect(typeof detail.since).toBe("string");
    }

    // PagerDuty: one alert per schedule's dedup key, triggered and resolved once per incident.
    for (const name of ["nightly", "hourly"]) {
      const alert = pd.alerts.get(`kots-backup:prod:${name}`);
      const n = INCIDENTS.filter(([s]) => s === name).length;
      expect(alert?.actions).toEqual(Array.from({ length: n }, () => ["trigger", "resolve"]).flat());
      expect(alert?.status).toBe("resolved");
    }
    expect(pd.requests).toHaveLength(total);

    // Slack: one message per event, DOWN then UP, saying what, since when and what to do.
    expect(slack.requests).toHaveLength(total);
    const texts = slack.requests.map((r) => (r.body as { text: string }).text);
    expect(texts.filter((x) => x.includes("DOWN"))).toHaveLength(INCIDENTS.length);
    expect(texts.filter((x) => x.includes("UP"))).toHaveLength(INCIDENTS.length);
    const stuck = slack.requests.find((r) => r.raw.includes("stuck"));
    expect(stuck?.raw).toContain("maxDuration");
  });
});

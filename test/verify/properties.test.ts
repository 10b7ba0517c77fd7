// Properties of verify's alerting over random histories (fast-check): whatever happens (backups that
// fail or hang, an unreachable cluster, an Unavailable BSL, silences, a channel that keeps failing,
// concurrent runs), every channel sees Check Down and Check Up strictly alternating, starting with a
// Down; once the world is healthy again and the channels work, every channel has seen the same
// incidents and the last one is closed.

import { runVerify } from "@kots-backup/core/usecases/verify";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addMinutes, harness, schedule } from "./support.ts";

const hourly = schedule({
  name: "hourly",
  cron: "0 * * * *",
  grace: 30 * 60_000,
  maxDuration: 45 * 60_000,
  export: false,
});

const step = fc.record({
  advance: fc.integer({ min: 5, max: 90 }),
  backup: fc.constantFrom("none", "none", "ok", "ok", "ok", "failed", "running"),
  reachable: fc.constantFrom(true, true, true, false),
  bslAvailable: fc.constantFrom(true, true, true, false),
  silence: fc.constantFrom("keep", "keep", "keep", "set", "clear"),
  pagerDutyFails: fc.constantFrom(false, false, false, true),
  /** PagerDuty answers these calls (in order, cycling) with an error: a flaky channel. */
  pagerDutyFlaky: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
  concurrency: fc.integer({ min: 1, max: 3 }),
});

function alternates(sequence: string[]): boolean {
  return sequence.every((type, i) => type === (i % 2 === 0 ? "Check Down" : "Check Up"));
}

describe("verify alerting properties", () => {
  it("Down and Up alternate on every channel, and all channels converge once healthy", async () => {
    const stats = { events: 0, retried: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
        const h = harness();
        let now = new Date("2026-03-01T00:10:00Z");
        let n = 0;
        const gaveUp: string[] = [];
        const verify = (times: number) =>
          Promise.all(
            Array.from({ length: times }, () =>
              runVerify(
                [hourly],
                h.deps(now, {
                  logError: (m) => {
                    if (m.startsWith("gave up")) gaveUp.push(m);
                  },
                }),
              ),
            ),
          );
        await verify(1);
        for (const s of steps) {
          now = addMinutes(now, s.advance);
          h.cluster.reachable = s.reachable;
          h.cluster.bslPhase = s.bslAvailable ? "Available" : "Unavailable";
          if (s.backup !== "none")
            h.cluster.addFull(
              `instance-${++n}`,
              now,
              s.backup === "ok" ? "Completed" : s.backup === "failed" ? "Failed" : "InProgress",
              3,
            );
          if (s.silence === "set")
            await h.state.setSilence({
              schedule: "hourly",
              until: addMinutes(now, 120).toISOString(),
              createdAt: now.toISOString(),
            });
          if (s.silence === "clear") await h.state.clearSilence("hourly");
          h.delivery.failing.clear();
          if (s.pagerDutyFails) h.delivery.failing.add("pagerduty");
          let call = 0;
          h.delivery.flaky = (channel) =>
            channel === "pagerduty" && s.pagerDutyFlaky[call++ % s.pagerDutyFlaky.length] === true;
          await verify(s.concurrency);
          expect(alternates(h.delivery.to("pagerduty").map((x) => x.split(":")[0]!))).toBe(true);
          expect(alternates(h.delivery.to("slack").map((x) => x.split(":")[0]!))).toBe(true);
        }
        // Settle: healthy world, working channels, no silence; running backups finish.
        h.delivery.failing.clear();
        h.delivery.flaky = undefined;
        await h.state.clearSilence("hourly");
        h.cluster.reachable = true;
        h.cluster.bslPhase = "Available";
        for (const b of h.cluster.backups)
          if (b.status?.phase === "InProgress" || b.status?.phase === "Failed")
            h.cluster.setPhase(b.metadata.name, "Completed", now);
        for (let i = 0; i < 3; i++) {
          now = addMinutes(now, 11); // past the 10-minute lease; a healthy world backs up every time
          h.cluster.addFull(`instance-${++n}`, now, "Completed", 0);
          await verify(1);
        }
        const pd = h.delivery.to("pagerduty");
        const slack = h.delivery.to("slack");
        expect(pd.length % 2).toBe(0);
        expect(slack.length % 2).toBe(0);
        if (gaveUp.length === 0) expect(pd).toEqual(slack);
        stats.events += slack.length;
        stats.retried += pd.length > 0 && steps.some((s) => s.pagerDutyFails) ? 1 : 0;
      }),
      { numRuns: 60 },
    );
    // The histories did produce incidents, some while PagerDuty was failing.
    expect(stats.events).toBeGreaterThan(20);
    expect(stats.retried).toBeGreaterThan(0);
  }, 120_000);
});

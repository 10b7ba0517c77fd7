// The status page's banner and timeline never disagree, and slots from before monitoring began are
// drawn "not monitored", not missed: an example, then a property over generated histories (fast-check).
import { bannerOf, renderStatusPage, statusPageModel } from "@kots-backup/core/status-page";
import { evaluateFacts, gatherFacts } from "@kots-backup/core/usecases/verify";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { harness, schedule } from "./support.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const hourly = schedule({
  name: "hourly",
  cron: "0 * * * *",
  grace: 30 * MIN,
  maxDuration: 45 * MIN,
  export: false,
});
const now = new Date("2026-03-10T12:17:00Z");

function recordOf(firstSeenAt: Date) {
  const at = firstSeenAt.toISOString();
  return { state: "up" as const, since: at, reasons: [], firstSeenAt: at };
}

async function page(h: ReturnType<typeof harness>, firstSeenAt: Date, windowMs = 2 * DAY) {
  const facts = await gatherFacts(h.deps(now), now, { readAllManifests: true });
  const records = new Map([["hourly", recordOf(firstSeenAt)]]);
  const { report } = evaluateFacts(facts, [hourly], records);
  return statusPageModel(facts, [hourly], report.checks, { windowMs, records });
}

describe("status page: monitoring and the banner", () => {
  it("draws the slots before verify first saw the schedule as not monitored, and says healthy only when nothing is missed", async () => {
    // Prepare: first seen a day ago; a backup every hour since, none before (the schedule did not exist).
    const h = harness();
    const firstSeen = new Date(now.getTime() - DAY);
    for (let t = Math.ceil(firstSeen.getTime() / HOUR) * HOUR; t <= now.getTime(); t += HOUR)
      h.cluster.addFull(`instance-${t / HOUR}`, new Date(t + MIN), "Completed", 2);
    // Act
    const model = await page(h, firstSeen);
    const html = renderStatusPage(model);
    // Assess
    const slots = model.schedules[0]?.slots ?? [];
    const before = slots.filter((s) => s.at <= firstSeen.getTime());
    expect(before.length).toBeGreaterThan(20);
    expect(new Set(before.map((s) => s.status))).toEqual(new Set(["not-monitored"]));
    expect(slots.filter((s) => s.status === "missed")).toEqual([]);
    expect(bannerOf(model)).toEqual({ tone: "ok", text: "All 1 schedule healthy" });
    expect(html).toContain("Not monitored");
    expect(html).toContain('class="slot not-monitored"');
    expect(html).not.toContain('class="slot missed"');
  });

  it("does not call a page with missed slots healthy, even when later backups followed them", async () => {
    const h = harness();
    const firstSeen = new Date(now.getTime() - DAY);
    for (let t = Math.ceil(firstSeen.getTime() / HOUR) * HOUR; t <= now.getTime(); t += HOUR)
      if (t !== Date.parse("2026-03-10T03:00:00Z"))
        h.cluster.addFull(`instance-${t / HOUR}`, new Date(t + MIN), "Completed", 2);
    const model = await page(h, firstSeen);
    expect(model.schedules[0]?.check.state).toBe("up");
    expect(bannerOf(model)).toEqual({
      tone: "warn",
      text: "No schedule down now; 1 slot in the timeline was missed or covered late, and later backups followed",
    });
  });

  it("never disagrees with its timeline, whatever the history (property)", async () => {
    const attempt = fc.record({
      minutesAgo: fc.integer({ min: -30, max: 3 * 24 * 60 }), // negative: dated in the future
      phase: fc.constantFrom(
        "Completed",
        "Completed",
        "Completed",
        "Failed",
        "PartiallyFailed",
        "InProgress",
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(attempt, { maxLength: 60 }),
        fc.integer({ min: 0, max: 3 * 24 * 60 }),
        fc.constantFrom(true, true, true, false),
        async (attempts, firstSeenMinutesAgo, reachable) => {
          const h = harness();
          for (const [i, a] of attempts.entries())
            h.cluster.addFull(`instance-${i}`, new Date(now.getTime() - a.minutesAgo * MIN), a.phase, 2);
          h.cluster.reachable = reachable;
          const firstSeen = new Date(now.getTime() - firstSeenMinutesAgo * MIN);
          const model = await page(h, firstSeen);
          const s = model.schedules[0]!;
          const banner = bannerOf(model);
          const down = s.check.state === "down";
          const lapses = s.slots.filter((x) => x.status === "missed" || x.status === "late");
          // Slots before monitoring began are never judged; after it, unknown only without the cluster.
          for (const slot of s.slots) {
            expect(slot.status === "not-monitored").toBe(slot.at <= firstSeen.getTime());
            if (slot.at > firstSeen.getTime()) expect(slot.status === "unknown").toBe(!reachable);
          }
          // A missed slot that no credible backup followed is a check that is down for `missed`.
          const credible = attempts
            .filter((a) => a.minutesAgo >= -5)
            .map((a) => now.getTime() - a.minutesAgo * MIN);
          for (const slot of s.slots.filter((x) => x.status === "missed")) {
            if (!credible.some((t) => t >= slot.at - 60_000)) {
              expect(down).toBe(true);
              expect(s.check.reasons).toContain("missed");
            }
          }
          // The banner: healthy only with nothing down and no missed or late slot drawn.
          if (!reachable || down) {
            expect(banner.tone).toBe("bad");
            if (reachable) expect(banner.text).toContain("hourly");
          } else if (lapses.length > 0) {
            expect(banner.tone).toBe("warn");
            expect(banner.text).toContain(`${lapses.length} slot`);
          } else expect(banner).toEqual({ tone: "ok", text: "All 1 schedule healthy" });
          expect(renderStatusPage(model)).toContain(`class="banner ${banner.tone}"`);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});

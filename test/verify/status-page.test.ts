// The status page: its model (slots vs backups vs exports, restore point) and a self-contained render.
import { renderStatusPage, statusPageModel } from "@kots-backup/core/status-page";
import { evaluateFacts, gatherFacts } from "@kots-backup/core/usecases/verify";
import { describe, expect, it } from "vitest";
import { at, harness, schedule, writeManifest } from "./support.ts";

const nightly = schedule({ name: "nightly", cron: "0 2 * * *", timezone: "UTC" });

async function scenario() {
  const h = harness();
  const day = (d: number) => `2026-03-0${d}T02:00:00Z`;
  const b1 = h.cluster.addFull("instance-d1", at(day(1)));
  await writeManifest(h.destination, b1, at("2026-03-01T02:30:00Z"), 5 * 1024 * 1024);
  const b2 = h.cluster.addFull("instance-d2", at(day(2)));
  await writeManifest(h.destination, b2, at("2026-03-02T02:30:00Z"));
  // 03: missed. 04: failed.
  h.cluster.addFull("instance-d4", at(day(4)), "PartiallyFailed");
  // 05: completed, not exported.
  h.cluster.addFull("instance-d5", at(day(5)));
  const now = at("2026-03-05T06:00:00Z");
  const facts = await gatherFacts(h.deps(now), now, { readAllManifests: true });
  const records = new Map([
    [
      "nightly",
      {
        state: "up" as const,
        since: "2026-02-28T00:00:00Z",
        reasons: [],
        firstSeenAt: "2026-02-28T00:00:00Z",
      },
    ],
  ]);
  const { report } = evaluateFacts(facts, [nightly], records);
  return { facts, report, records };
}

describe("status page", () => {
  it("models expected slots (missed ones marked), backups by outcome, exports and the last good restore point", async () => {
    const { facts, report, records } = await scenario();
    const model = statusPageModel(facts, [nightly], report.checks, {
      windowMs: 5 * 86_400_000,
      destination: "memory://dest",
      records,
    });
    const s = model.schedules[0]!;
    expect(s.slots.map((x) => [new Date(x.at).toISOString().slice(0, 10), x.status])).toEqual([
      ["2026-03-01", "covered"],
      ["2026-03-02", "covered"],
      ["2026-03-03", "missed"],
      ["2026-03-04", "covered"],
      ["2026-03-05", "covered"],
    ]);
    expect(s.backups.map((b) => [b.name, b.outcome])).toEqual([
      ["instance-d1", "completed"],
      ["instance-d2", "completed"],
      ["instance-d4", "partially-failed"],
      ["instance-d5", "completed"],
    ]);
    expect(s.exports.map((e) => [e.backup, e.verified])).toEqual([
      ["instance-d1", true],
      ["instance-d2", true],
    ]);
    // The newest backup that is also exported: restorable off the cluster.
    expect(s.restorePoint).toEqual({
      backup: "instance-d2",
      completedAt: "2026-03-02T02:10:00Z",
      exportedAt: "2026-03-02T02:30:00Z",
      restoreCommand: "kubectl kots restore --from-backup instance-d2",
    });
    expect(s.check.state).toBe("down");
    expect(s.check.reasons).toEqual(["export-missing"]);
  });

  it("renders one self-contained HTML document: inline CSS and SVG, no scripts or external assets, text escaped", async () => {
    const { facts, report } = await scenario();
    const html = renderStatusPage(
      statusPageModel({ ...facts, cluster: "<prod & co>" }, [nightly], report.checks),
    );
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<style>");
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)=/i);
    expect(html).toContain("&#60;prod &#38; co&#62;");
    expect(html).not.toContain("<prod & co>");
    expect(html).toContain("instance-d2");
    expect(html).toContain("DOWN");
  });
});

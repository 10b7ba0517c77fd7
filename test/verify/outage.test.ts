// The truth during an outage: the destination is the record of what can be restored. Whatever the
// cluster's state, verify and status read the last verified export and the last good restore point from
// `manifests/<backup>.json`, and name the backup that `kubectl kots restore --from-backup` needs.
import { renderStatusPage, statusPageModel } from "@kots-backup/core/status-page";
import { evaluateFacts, gatherFacts, runVerify } from "@kots-backup/core/usecases/verify";
import { describe, expect, it } from "vitest";
import { APP, at, harness, schedule, writeManifest } from "./support.ts";

const nightly = schedule({ name: "nightly", cron: "0 2 * * *" });
const hourly = schedule({ name: "hourly", cron: "0 * * * *", type: "partial", app: APP.slug });
const now = at("2026-03-05T06:00:00Z");
const firstSeen = {
  state: "up" as const,
  since: "2026-02-28T00:00:00Z",
  reasons: [],
  firstSeenAt: "2026-02-28T00:00:00Z",
};

/** Three nights of exported full backups, an exported app backup, then the cluster goes away. */
async function world() {
  const h = harness();
  for (const d of [2, 3, 4]) {
    const b = h.cluster.addFull(`instance-d${d}`, at(`2026-03-0${d}T02:00:00Z`));
    await writeManifest(h.destination, b, at(`2026-03-0${d}T02:30:00Z`));
  }
  const app = h.cluster.addPartial("gitguardian-d4", at("2026-03-04T05:00:00Z"));
  await writeManifest(h.destination, app, at("2026-03-04T05:20:00Z"));
  return h;
}

describe("with the cluster unreachable", () => {
  it("verify reports the last export and the restore point, by name, from the destination's manifests", async () => {
    // Prepare
    const h = await world();
    h.cluster.reachable = false;
    // Act
    const run = await runVerify([nightly, hourly], h.deps(now));
    // Assess
    const [full, partial] = run.report.checks;
    expect(full).toMatchObject({
      name: "nightly",
      reasons: ["cluster-unreachable"],
      lastExportAt: "2026-03-04T02:30:00Z",
      restorePoint: {
        backup: "instance-d4",
        completedAt: "2026-03-04T02:10:00Z",
        exportedAt: "2026-03-04T02:30:00Z",
        restoreCommand: "kubectl kots restore --from-backup instance-d4",
      },
    });
    // An app backup restores one app (admin console), not the instance: no instance restore command.
    expect(partial).toMatchObject({
      name: "hourly",
      lastExportAt: "2026-03-04T05:20:00Z",
      restorePoint: { backup: "gitguardian-d4", exportedAt: "2026-03-04T05:20:00Z" },
    });
    expect(partial?.restorePoint).not.toHaveProperty("restoreCommand");
  });

  it("status and its page show them instead of 'none'", async () => {
    const h = await world();
    h.cluster.reachable = false;
    const facts = await gatherFacts(h.deps(now), now, { readAllManifests: true });
    const { report } = evaluateFacts(facts, [nightly], new Map([["nightly", firstSeen]]));
    expect(report.checks[0]).toMatchObject({
      lastExportAt: "2026-03-04T02:30:00Z",
      restorePoint: { backup: "instance-d4" },
    });
    const model = statusPageModel(facts, [nightly], report.checks);
    expect(model.schedules[0]?.restorePoint).toMatchObject({ backup: "instance-d4" });
    const html = renderStatusPage(model);
    expect(html).toContain("instance-d4");
    expect(html).toContain("kubectl kots restore --from-backup instance-d4");
    expect(html).not.toMatch(/Last export<\/dt><dd><span class="muted">none/);
    expect(html).not.toMatch(/Last good restore point<\/dt><dd><span class="muted">none/);
  });

  it("never takes a manifest whose backup is dated in the future as the restore point", async () => {
    const h = await world();
    const skewed = h.cluster.addFull("instance-future", at("2026-03-09T02:00:00Z"));
    await writeManifest(h.destination, skewed, at("2026-03-05T05:00:00Z"));
    h.cluster.reachable = false;
    const run = await runVerify([nightly], h.deps(now));
    expect(run.report.checks[0]?.restorePoint?.backup).toBe("instance-d4");
  });
});

describe("with the cluster reachable", () => {
  it("a backup the cluster dates in the future is never the restore point, even when exported", async () => {
    const h = await world();
    const skewed = h.cluster.addFull("instance-future", at("2026-03-09T02:00:00Z"));
    await writeManifest(h.destination, skewed, at("2026-03-05T05:00:00Z"));
    const run = await runVerify([nightly], h.deps(now));
    expect(run.report.checks[0]?.reasons).toContain("clock-skew");
    expect(run.report.checks[0]?.restorePoint?.backup).toBe("instance-d4");
  });

  it("an export whose backup the cluster no longer lists is still a restore point", async () => {
    const h = await world();
    h.cluster.backups = h.cluster.backups.filter((b) => b.metadata.name !== "instance-d4");
    const run = await runVerify([nightly], h.deps(now));
    // instance-d4's export is the newest restorable copy, though the cluster forgot the backup.
    expect(run.report.checks[0]).toMatchObject({
      lastExportAt: "2026-03-04T02:30:00Z",
      restorePoint: { backup: "instance-d4", exportedAt: "2026-03-04T02:30:00Z" },
    });
  });

  it("prefers the newest exported backup over a newer one on the cluster's BSL only", async () => {
    const h = await world();
    h.cluster.addFull("instance-d5", at("2026-03-05T02:00:00Z"));
    const run = await runVerify([nightly], h.deps(now));
    expect(run.report.checks[0]?.restorePoint).toMatchObject({
      backup: "instance-d4",
      exportedAt: "2026-03-04T02:30:00Z",
    });
  });
});

// The verify use case over in-memory ports: states, one page per incident, silences, delivery retries.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import { runVerify, verifyExitCode } from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { describe, expect, it } from "vitest";
import { addMinutes, at, harness, schedule, writeManifest } from "./support.ts";

const nightly = schedule({
  name: "nightly",
  cron: "0 2 * * *",
  grace: 3_600_000,
  exportGrace: 2 * 3_600_000,
});

describe("verify", () => {
  it("reports a healthy schedule as up with the contract's fields and pages nobody", async () => {
    // Prepare
    const h = harness();
    await h.state.claimSlot("nightly", "2026-03-01T02:00:00Z", {
      schedule: "nightly",
      slot: "2026-03-01T02:00:00Z",
      claimedAt: "2026-03-01T02:00:00Z",
    });
    const b = h.cluster.addFull("instance-aaaaa", at("2026-03-02T02:00:05Z"));
    await writeManifest(h.destination, b, at("2026-03-02T02:20:00Z"));
    // Act
    const run = await runVerify([nightly], h.deps(at("2026-03-02T08:00:00Z")));
    // Assess
    expect(run.report).toEqual({
      checkedAt: "2026-03-02T08:00:00Z",
      checks: [
        {
          name: "nightly",
          state: "up",
          reasons: [],
          lastSuccessAt: "2026-03-02T02:10:05Z",
          lastAttemptAt: "2026-03-02T02:00:05Z",
          expectedBy: "2026-03-03T03:00:00Z",
          lastExportAt: "2026-03-02T02:20:00Z",
          restorePoint: {
            backup: "instance-aaaaa",
            completedAt: "2026-03-02T02:10:05Z",
            exportedAt: "2026-03-02T02:20:00Z",
            restoreCommand: "kubectl kots restore --from-backup instance-aaaaa",
          },
        },
      ],
    });
    expect(verifyExitCode(run.report)).toBe(0);
    expect(h.delivery.sent).toEqual([]);
    expect(run.figures).toEqual([
      {
        schedule: "nightly",
        state: "up",
        secondsSinceLastSuccess: 20995,
        lastBackupDurationSeconds: 600,
        exportBytes: 1234,
      },
    ]);
  });

  it("pages once when a slot is missed, stays quiet while down, and resolves once on recovery", async () => {
    const h = harness();
    const first = at("2026-03-01T12:00:00Z");
    await runVerify([nightly], h.deps(first)); // first seen: slots before now are not expected
    const inGrace = await runVerify([nightly], h.deps(at("2026-03-02T02:30:00Z")));
    expect(inGrace.report.checks[0]?.state).toBe("grace");
    const down = await runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z")));
    expect(down.report.checks[0]).toMatchObject({
      state: "down",
      reasons: ["missed", "never-succeeded"],
      since: "2026-03-02T03:00:00Z",
    });
    expect(verifyExitCode(down.report)).toBe(1);
    for (let t = at("2026-03-02T03:05:00Z"); t < at("2026-03-02T09:00:00Z"); t = addMinutes(t, 5)) {
      await runVerify([nightly], h.deps(t));
    }
    const b = h.cluster.addFull("instance-bbbbb", at("2026-03-02T09:00:00Z"));
    await writeManifest(h.destination, b, at("2026-03-02T09:15:00Z"));
    const up = await runVerify([nightly], h.deps(at("2026-03-02T09:20:00Z")));
    expect(up.report.checks[0]?.state).toBe("up");
    await runVerify([nightly], h.deps(at("2026-03-02T09:25:00Z")));

    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
    expect(h.delivery.to("slack")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
    const [downEvent, upEvent] = h.delivery.sent.filter((s) => s.channel === "pagerduty").map((s) => s.event);
    expect(downEvent?.detail).toMatchObject({
      cluster: "prod",
      schedule: "nightly",
      dedupKey: "kots-backup:prod:nightly",
      since: "2026-03-02T03:00:00Z",
      reasons: ["missed", "never-succeeded"],
    });
    expect(upEvent?.detail).toMatchObject({
      dedupKey: "kots-backup:prod:nightly",
      since: "2026-03-02T03:00:00Z",
    });
    // Nothing left to deliver.
    expect((await checkRecordStore(h.destination).read("nightly"))?.value.outbox).toBeUndefined();
  });

  it("reports an unreachable cluster as cluster-unreachable, with its grace counted across runs", async () => {
    const h = harness();
    const b = h.cluster.addFull("instance-aaaaa", at("2026-03-02T02:00:00Z"));
    await writeManifest(h.destination, b, at("2026-03-02T02:20:00Z"));
    await runVerify([nightly], h.deps(at("2026-03-02T08:00:00Z")));
    h.cluster.reachable = false;
    const first = await runVerify([nightly], h.deps(at("2026-03-02T09:00:00Z")));
    expect(first.report.checks[0]).toMatchObject({
      state: "grace",
      reasons: ["cluster-unreachable"],
      since: "2026-03-02T09:00:00Z",
    });
    const later = await runVerify([nightly], h.deps(at("2026-03-02T09:55:00Z")));
    expect(later.report.checks[0]?.state).toBe("grace");
    const down = await runVerify([nightly], h.deps(at("2026-03-02T10:00:00Z")));
    expect(down.report.checks[0]).toMatchObject({
      state: "down",
      reasons: ["cluster-unreachable"],
      since: "2026-03-02T10:00:00Z",
    });
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
    h.cluster.reachable = true;
    const back = await runVerify([nightly], h.deps(at("2026-03-02T10:05:00Z")));
    expect(back.report.checks[0]?.state).toBe("up");
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
    // The problem's start is forgotten once it ends: a new outage starts a new grace.
    h.cluster.reachable = false;
    const again = await runVerify([nightly], h.deps(at("2026-03-02T11:00:00Z")));
    expect(again.report.checks[0]).toMatchObject({ state: "grace", since: "2026-03-02T11:00:00Z" });
  });

  it("reports an Unavailable BSL as bsl-unavailable once its grace has passed", async () => {
    const h = harness();
    const b = h.cluster.addFull("instance-aaaaa", at("2026-03-02T02:00:00Z"));
    await writeManifest(h.destination, b, at("2026-03-02T02:20:00Z"));
    h.cluster.bslPhase = "Unavailable";
    await runVerify([nightly], h.deps(at("2026-03-02T08:00:00Z")));
    const down = await runVerify([nightly], h.deps(at("2026-03-02T09:00:00Z")));
    expect(down.report.checks[0]).toMatchObject({ state: "down", reasons: ["bsl-unavailable"] });
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
  });

  it("reports export-missing after exportGrace and export-invalid for a manifest that does not parse", async () => {
    const h = harness();
    h.cluster.addFull("instance-aaaaa", at("2026-03-02T02:00:00Z"));
    const missing = await runVerify([nightly], h.deps(at("2026-03-02T04:10:00Z")));
    expect(missing.report.checks[0]).toMatchObject({ state: "down", reasons: ["export-missing"] });
    await h.destination.put("manifests/instance-aaaaa.json", '{"formatVersion":1}');
    const invalid = await runVerify([nightly], h.deps(at("2026-03-02T04:15:00Z")));
    expect(invalid.report.checks[0]).toMatchObject({ state: "down", reasons: ["export-invalid"] });
    // A change of reasons while down does not page again.
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
  });

  it("evaluates and shows a silenced check but pages nobody until the silence ends", async () => {
    const h = harness();
    await runVerify([nightly], h.deps(at("2026-03-01T12:00:00Z")));
    await h.state.setSilence({
      schedule: "nightly",
      until: "2026-03-02T06:00:00Z",
      reason: "maintenance",
      createdAt: "2026-03-01T12:00:00Z",
    });
    const silenced = await runVerify([nightly], h.deps(at("2026-03-02T04:00:00Z")));
    expect(silenced.report.checks[0]).toMatchObject({ state: "down", silencedUntil: "2026-03-02T06:00:00Z" });
    expect(h.delivery.sent).toEqual([]);
    const after = await runVerify([nightly], h.deps(at("2026-03-02T06:00:00Z")));
    expect(after.report.checks[0]?.silencedUntil).toBeUndefined();
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
  });

  it("retries a failed channel on the next run, and only that channel", async () => {
    const h = harness();
    await runVerify([nightly], h.deps(at("2026-03-01T12:00:00Z")));
    h.delivery.failing.add("pagerduty");
    const errors: string[] = [];
    await runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z"), { logError: (m) => errors.push(m) }));
    expect(h.delivery.to("slack")).toEqual(["Check Down:nightly"]);
    expect(h.delivery.to("pagerduty")).toEqual([]);
    expect(errors).toEqual(["could not deliver Check Down for nightly to pagerduty; the next run retries"]);
    const pending = (await checkRecordStore(h.destination).read("nightly"))?.value.outbox;
    expect(pending).toMatchObject([{ pending: ["pagerduty"], attempts: 1 }]);
    expect(pending?.[0]?.lastError).toContain("503");

    h.delivery.failing.clear();
    await runVerify([nightly], h.deps(at("2026-03-02T03:05:00Z")));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
    expect(h.delivery.to("slack")).toEqual(["Check Down:nightly"]);
    expect((await checkRecordStore(h.destination).read("nightly"))?.value.outbox).toBeUndefined();
  });

  it("retries an entry left by a run that died mid-delivery once its lease has expired", async () => {
    const h = harness();
    await runVerify([nightly], h.deps(at("2026-03-01T12:00:00Z")));
    // A run that records the transition and dies before delivering.
    await expect(
      runVerify(
        [nightly],
        h.deps(at("2026-03-02T03:00:00Z"), { deliver: () => Promise.reject(new Error("killed")) }),
      ),
    ).rejects.toThrow("killed");
    await runVerify([nightly], h.deps(at("2026-03-02T03:05:00Z")));
    expect(h.delivery.sent).toEqual([]); // still leased
    await runVerify([nightly], h.deps(at("2026-03-02T03:10:00Z")));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
    await runVerify([nightly], h.deps(at("2026-03-02T03:15:00Z")));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
  });

  it("pages once when ten runs evaluate the same transition at the same time", async () => {
    const store = new MemoryStore("dest");
    const h = harness(store);
    await runVerify([nightly], h.deps(at("2026-03-01T12:00:00Z")));
    const runs = await Promise.all(
      Array.from({ length: 10 }, () => runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z")))),
    );
    expect(runs.every((r) => r.report.checks[0]?.state === "down")).toBe(true);
    expect(runs.flatMap((r) => r.transitions)).toHaveLength(1);
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
  });

  it("reports a paused schedule as paused and closes its incident", async () => {
    const h = harness();
    await runVerify([nightly], h.deps(at("2026-03-01T12:00:00Z")));
    await runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z")));
    const paused = await runVerify([{ ...nightly, paused: true }], h.deps(at("2026-03-02T03:05:00Z")));
    expect(paused.report.checks[0]?.state).toBe("paused");
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
  });

  it("pages once with ten concurrent runs on the local folder store too", async () => {
    const h = harness(new LocalFolderStore(mkdtempSync(join(tmpdir(), "kb-verify-"))));
    await runVerify([nightly], h.deps(at("2026-03-01T12:00:00Z")));
    const runs = await Promise.all(
      Array.from({ length: 10 }, () => runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z")))),
    );
    expect(runs.flatMap((r) => r.transitions)).toHaveLength(1);
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
  });

  it("refuses a corrupt check record with an environment error naming the key and the fix", async () => {
    const h = harness();
    await h.destination.put("state/alerts/nightly.json", '{"state":"sideways"}');
    const error = await runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z"))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "state-corrupt", exitCode: 3 });
    expect((error as Error).message).toContain("state/alerts/nightly.json");
    expect((error as { fix: string }).fix).toContain("delete it");
  });

  it("reads only the newest manifests in full; older ones count as verified exports dated by the listing", async () => {
    const h = harness();
    for (let d = 1; d <= 5; d++) {
      const b = h.cluster.addFull(`instance-d${d}`, at(`2026-03-0${d}T02:00:00Z`));
      await writeManifest(h.destination, b, at(`2026-03-0${d}T02:30:00Z`));
    }
    // A broken manifest for an old backup is not read; one for a recent backup is.
    await h.destination.put("manifests/instance-d1.json", "not json");
    const reads: string[] = [];
    const get = h.destination.get.bind(h.destination);
    h.destination.get = async (key: string) => {
      reads.push(key);
      return get(key);
    };
    const run = await runVerify([nightly], h.deps(at("2026-03-05T06:00:00Z")));
    expect(reads.filter((k) => k.startsWith("manifests/")).sort()).toEqual([
      "manifests/instance-d3.json",
      "manifests/instance-d4.json",
      "manifests/instance-d5.json",
    ]);
    const listed = await h.destination.head("manifests/instance-d1.json");
    const d1 = run.facts.exports.find((e) => e.backup === "instance-d1");
    expect(d1).toEqual({
      backup: "instance-d1",
      verified: true,
      exportedAt: listed?.lastModified?.toISOString().replace(/\.\d{3}Z$/, "Z"),
    });
    expect(run.facts.exports.find((e) => e.backup === "instance-d5")).toMatchObject({
      exportedAt: "2026-03-05T02:30:00Z",
      bytes: 1234,
    });
    expect(run.report.checks[0]?.state).toBe("up");
  });
});

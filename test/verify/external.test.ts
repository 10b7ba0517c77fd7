// External recovery points in verify: one incident, one page, one resolve, under
// `kots-backup:<cluster>:external:<name>`, with the schedules' outbox and check records (in-memory
// destination). The source is a port here; each kind's adapter is tested against its peer in test/external.
import { parseConfig } from "@kots-backup/core/config";
import type { ExternalObservation } from "@kots-backup/core/external";
import { evaluateFacts, gatherFacts, runVerify } from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { describe, expect, it } from "vitest";
import { addMinutes, at, harness } from "./support.ts";

const config = parseConfig({
  cluster: { name: "prod" },
  external: [
    { kind: "rds", name: "orders-db", app: "gitguardian", period: "1d", grace: "1h", instance: "orders" },
  ],
});

/** A source whose newest recovery point the test sets, and whose reachability it toggles. */
function source() {
  const state = { newestAt: "2026-03-01T01:00:00Z" as string | undefined, reachable: true, calls: 0 };
  return {
    state,
    external: {
      points: config.external,
      observe: async (): Promise<ExternalObservation> => {
        state.calls += 1;
        if (!state.reachable) return { reachable: false, detail: "AccessDenied: rds:DescribeDBSnapshots" };
        return {
          reachable: true,
          ...(state.newestAt ? { newestAt: state.newestAt, newestId: "rds:orders-x" } : {}),
          encrypted: true,
          detail: "newest snapshot rds:orders-x",
        };
      },
    },
  };
}

describe("verify: external recovery points", () => {
  it("pages once when the snapshots stop, stays quiet while down, resolves once when they resume", async () => {
    const h = harness();
    const src = source();
    const run = (now: Date) => runVerify([], h.deps(now, { external: src.external }));

    const first = await run(at("2026-03-01T12:00:00Z"));
    expect(first.report.checks).toEqual([
      expect.objectContaining({
        name: "external:orders-db",
        state: "up",
        lastSuccessAt: "2026-03-01T01:00:00Z",
      }),
    ]);
    expect(h.delivery.sent).toEqual([]);

    // Newest snapshot 01:00 + 1d period + 1h grace: down from 02:00 the next day.
    const grace = await run(at("2026-03-02T01:30:00Z"));
    expect(grace.report.checks[0]?.state).toBe("grace");
    const down = await run(at("2026-03-02T02:00:00Z"));
    expect(down.report.checks[0]).toMatchObject({
      state: "down",
      reasons: ["missed"],
      since: "2026-03-02T02:00:00Z",
    });
    for (let i = 1; i <= 5; i++) await run(addMinutes(at("2026-03-02T02:00:00Z"), 5 * i));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:external:orders-db"]);
    const page = h.delivery.sent[0]?.event;
    expect(page?.detail).toMatchObject({
      dedupKey: "kots-backup:prod:external:orders-db",
      reasons: ["missed"],
      external: { name: "orders-db", kind: "rds", app: "gitguardian" },
    });
    expect(page?.detail.message).toContain(
      "RDS snapshots of orders-db (app gitguardian) on cluster prod are down",
    );

    src.state.newestAt = "2026-03-02T03:00:00Z";
    const up = await run(at("2026-03-02T03:10:00Z"));
    expect(up.report.checks[0]?.state).toBe("up");
    await run(at("2026-03-02T03:20:00Z"));
    expect(h.delivery.to("pagerduty")).toEqual([
      "Check Down:external:orders-db",
      "Check Up:external:orders-db",
    ]);
    expect(h.delivery.sent.at(-1)?.event.detail.dedupKey).toBe("kots-backup:prod:external:orders-db");

    // Its own record, beside the schedules' and never colliding with a schedule's name.
    expect(await h.destination.head("state/alerts/external/orders-db.json")).toBeDefined();
    expect((await checkRecordStore(h.destination).read("external:orders-db"))?.value.state).toBe("up");
  });

  it("an unreachable source is down once grace has passed since it was first found so (persisted)", async () => {
    const h = harness();
    const src = source();
    src.state.newestAt = "2026-03-01T11:00:00Z";
    const run = (now: Date) => runVerify([], h.deps(now, { external: src.external }));
    await run(at("2026-03-01T12:00:00Z"));
    src.state.reachable = false;
    const first = await run(at("2026-03-01T12:05:00Z"));
    expect(first.report.checks[0]).toMatchObject({ state: "grace", reasons: ["unreachable"] });
    const later = await run(at("2026-03-01T13:04:00Z"));
    expect(later.report.checks[0]?.state).toBe("grace");
    const down = await run(at("2026-03-01T13:05:00Z"));
    expect(down.report.checks[0]).toMatchObject({ state: "down", reasons: ["unreachable"] });
    expect(h.delivery.to("slack")).toEqual(["Check Down:external:orders-db"]);
  });

  it("a silence (kots-backup silence external:<name>) holds the page back; Check Down is sent when it ends", async () => {
    const h = harness();
    const src = source();
    const run = (now: Date) => runVerify([], h.deps(now, { external: src.external }));
    await h.state.setSilence({
      schedule: "external:orders-db",
      until: "2026-03-05T02:00:00Z",
      reason: "RDS maintenance",
      createdAt: "2026-03-05T00:00:00Z",
    });
    expect(await h.destination.head("state/silences/external/orders-db.json")).toBeDefined();
    const silenced = await run(at("2026-03-05T00:00:00Z"));
    expect(silenced.report.checks[0]).toMatchObject({ state: "down", silencedUntil: "2026-03-05T02:00:00Z" });
    expect(silenced.transitions).toEqual([{ schedule: "external:orders-db", events: [], suppressed: true }]);
    expect(h.delivery.sent).toEqual([]);
    await run(at("2026-03-05T02:00:00Z"));
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:external:orders-db"]);
  });

  it("two verify runs at once page once", async () => {
    const h = harness();
    const src = source();
    const now = at("2026-03-05T00:00:00Z");
    await Promise.all([
      runVerify([], h.deps(now, { external: src.external })),
      runVerify([], h.deps(now, { external: src.external })),
    ]);
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:external:orders-db"]);
  });

  it("status evaluates them read-only, with their records; a throwing source is unreachable, not an error", async () => {
    const h = harness();
    const src = source();
    await runVerify([], h.deps(at("2026-03-05T00:00:00Z"), { external: src.external }));
    const facts = await gatherFacts(
      {
        ...h.deps(at("2026-03-05T00:10:00Z")),
        external: {
          points: config.external,
          observe: async () => {
            throw new Error("socket hang up");
          },
        },
      },
      at("2026-03-05T00:10:00Z"),
    );
    const records = new Map([
      ["external:orders-db", (await checkRecordStore(h.destination).read("external:orders-db"))?.value],
    ]);
    const { report, figures } = evaluateFacts(facts, [], records);
    expect(report.checks[0]).toMatchObject({
      name: "external:orders-db",
      state: "grace",
      reasons: ["unreachable"],
    });
    expect(figures).toEqual([{ schedule: "external:orders-db", state: "grace" }]);
  });
});

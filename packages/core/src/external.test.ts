// The pure evaluation of an external recovery point (period + grace, like a schedule's slot + grace).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ExternalObservation,
  type ExternalPoint,
  evaluateExternal,
  externalDownMessage,
} from "./external.ts";
import { CheckReason, CheckState } from "./freshness.ts";

const H = 3_600_000;
const NOW = new Date("2026-06-10T12:00:00Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString().replace(".000Z", "Z");

const point = (extra: Partial<ExternalPoint> = {}): ExternalPoint => ({
  name: "orders-db",
  kind: "rds",
  app: "orders",
  period: 24 * H,
  grace: 2 * H,
  paused: false,
  requireEncryption: true,
  ...extra,
});
const seen = (newestAgoMs: number, extra: Partial<ExternalObservation> = {}): ExternalObservation => ({
  reachable: true,
  newestAt: ago(newestAgoMs),
  newestId: "rds:orders-2026-06-10",
  encrypted: true,
  detail: "newest snapshot rds:orders-2026-06-10 (automated)",
  ...extra,
});
const FIRST_SEEN = { firstSeenAt: ago(30 * 24 * H) };

describe("evaluateExternal", () => {
  it("is up while the newest point is within the period, and says when it is due", () => {
    const check = evaluateExternal(point(), seen(3 * H), NOW, FIRST_SEEN);
    expect(check).toMatchObject({
      name: "external:orders-db",
      state: CheckState.up,
      reasons: [],
      lastSuccessAt: ago(3 * H),
      expectedBy: ago(-23 * H),
      external: { name: "orders-db", kind: "rds", app: "orders", newestId: "rds:orders-2026-06-10" },
    });
  });

  it("is in grace past the period, down with missed at period + grace (inclusive)", () => {
    expect(evaluateExternal(point(), seen(25 * H), NOW, FIRST_SEEN)).toMatchObject({
      state: CheckState.grace,
      reasons: [],
      since: ago(H),
    });
    const down = evaluateExternal(point(), seen(26 * H), NOW, FIRST_SEEN);
    expect(down).toMatchObject({ state: CheckState.down, reasons: [CheckReason.missed], since: ago(0) });
  });

  it("is down at once when snapshots stopped long before it was first watched (since = when it became due)", () => {
    const check = evaluateExternal(point(), seen(40 * 24 * H), NOW, { firstSeenAt: NOW.toISOString() });
    expect(check.state).toBe(CheckState.down);
    expect(check.reasons).toEqual([CheckReason.missed]);
    expect(check.since).toBe(ago(40 * 24 * H - 26 * H));
  });

  it("without any point: new until first seen + period, then grace, then missed + never-succeeded", () => {
    const none: ExternalObservation = { reachable: true, detail: "no snapshot" };
    const at = (firstSeenAgo: number) =>
      evaluateExternal(point(), none, NOW, { firstSeenAt: ago(firstSeenAgo) });
    expect(at(H).state).toBe(CheckState.new);
    expect(at(25 * H).state).toBe(CheckState.grace);
    expect(at(26 * H)).toMatchObject({
      state: CheckState.down,
      reasons: [CheckReason.missed, CheckReason.neverSucceeded],
    });
  });

  it("is down at once for failed, unencrypted, unprotected and clock-skew, whatever the age", () => {
    expect(evaluateExternal(point(), seen(H, { failed: true }), NOW, FIRST_SEEN).reasons).toEqual([
      CheckReason.failed,
    ]);
    expect(evaluateExternal(point(), seen(H, { encrypted: false }), NOW, FIRST_SEEN)).toMatchObject({
      state: CheckState.down,
      reasons: [CheckReason.unencrypted],
    });
    expect(
      evaluateExternal(point({ requireEncryption: false }), seen(H, { encrypted: false }), NOW, FIRST_SEEN)
        .state,
    ).toBe(CheckState.up);
    expect(
      evaluateExternal(point({ kind: "s3" }), seen(H, { unprotected: true }), NOW, FIRST_SEEN).reasons,
    ).toEqual([CheckReason.unprotected]);
    expect(evaluateExternal(point(), seen(H, { futureDated: true }), NOW, FIRST_SEEN).reasons).toEqual([
      CheckReason.clockSkew,
    ]);
  });

  it("unreachable: grace from when it was first found so, down after grace, and nothing else is claimed", () => {
    const away: ExternalObservation = { reachable: false, detail: "AccessDenied: rds:DescribeDBSnapshots" };
    const fresh = evaluateExternal(point(), away, NOW, { ...FIRST_SEEN, unreachableSince: ago(H) });
    expect(fresh).toMatchObject({
      state: CheckState.grace,
      reasons: [CheckReason.unreachable],
      since: ago(H),
    });
    expect(fresh.lastSuccessAt).toBeUndefined();
    const long = evaluateExternal(point(), away, NOW, { ...FIRST_SEEN, unreachableSince: ago(2 * H) });
    expect(long).toMatchObject({ state: CheckState.down, reasons: [CheckReason.unreachable] });
  });

  it("paused: reported, never down", () => {
    expect(evaluateExternal(point({ paused: true }), seen(90 * 24 * H), NOW, FIRST_SEEN).state).toBe(
      CheckState.paused,
    );
  });

  it("the down message names the point, the app, the newest point and the kind's next step", () => {
    const check = evaluateExternal(point(), seen(40 * H), NOW, FIRST_SEEN);
    const text = externalDownMessage("prod", check, check.since ?? "");
    expect(text).toContain("RDS snapshots of orders-db (app orders) on cluster prod are down since");
    expect(text).toContain(`Newest recovery point: rds:orders-2026-06-10 at ${ago(40 * H)}.`);
    expect(text).toContain("aws rds create-db-snapshot");
  });

  it("property: the state follows the newest point's age against period and grace", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 * 24 }),
        fc.integer({ min: 0, max: 48 }),
        fc.integer({ min: 0, max: 60 * 24 }),
        (periodH, graceH, ageH) => {
          const p = point({ period: periodH * H, grace: graceH * H });
          const check = evaluateExternal(p, seen(ageH * H), NOW, FIRST_SEEN);
          const age = ageH * H;
          const expected =
            age >= p.period + p.grace ? CheckState.down : age >= p.period ? CheckState.grace : CheckState.up;
          expect(check.state).toBe(expected);
          expect(check.reasons).toEqual(expected === CheckState.down ? [CheckReason.missed] : []);
          if (expected === CheckState.down)
            expect(Date.parse(check.since ?? "")).toBe(NOW.getTime() - age + p.period + p.grace);
        },
      ),
    );
  });

  it("property: a newer recovery point never makes the check worse", () => {
    const rank = { up: 0, new: 0, paused: 0, grace: 1, down: 2 } as const;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2000 }), (a, b) => {
        const [newer, older] = a <= b ? [a, b] : [b, a];
        const n = evaluateExternal(point(), seen(newer * H), NOW, FIRST_SEEN);
        const o = evaluateExternal(point(), seen(older * H), NOW, FIRST_SEEN);
        expect(rank[n.state]).toBeLessThanOrEqual(rank[o.state]);
      }),
    );
  });
});

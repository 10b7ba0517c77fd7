import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlertTransitionInput, nextAlertState } from "./alert-state.ts";
import type { CheckResult } from "./freshness.ts";
import type { AlertRecord } from "./state.ts";

const cluster = "prod-eu";
const down = (reasons: CheckResult["reasons"] = ["missed"], since = "2026-06-01T03:30:00Z"): CheckResult => ({
  name: "nightly",
  state: "down",
  reasons,
  since,
  lastSuccessAt: "2026-05-31T02:40:00Z",
  lastExportAt: "2026-05-31T02:50:00Z",
});
const up: CheckResult = { name: "nightly", state: "up", reasons: [], lastSuccessAt: "2026-06-01T04:10:00Z" };
const at = (text: string) => new Date(text);
const step = (input: Partial<AlertTransitionInput> & Pick<AlertTransitionInput, "check">) =>
  nextAlertState({ cluster, now: at("2026-06-01T03:30:00Z"), ...input });

describe("nextAlertState", () => {
  it("emits Check Down once when a down period starts, with dedup key and an actionable message", () => {
    const { next, events } = step({ check: down() });
    expect(next).toEqual({ state: "down", since: "2026-06-01T03:30:00Z", reasons: ["missed"] });
    expect(events).toHaveLength(1);
    expect(events[0]?.detailType).toBe("Check Down");
    expect(events[0]?.detail).toMatchObject({
      cluster,
      schedule: "nightly",
      reasons: ["missed"],
      since: "2026-06-01T03:30:00Z",
      dedupKey: "kots-backup:prod-eu:nightly",
    });
    const message = String(events[0]?.detail.message);
    expect(message).toContain("since 2026-06-01T03:30:00Z");
    expect(message).toContain("no backup was requested");
    expect(message).toContain("Last good backup: 2026-05-31T02:40:00Z");
    expect(message).toContain("last export: 2026-05-31T02:50:00Z");
    expect(message).toContain("Next:");
  });

  it("does not page again when the reasons change while down, and keeps the incident's start", () => {
    const previous: AlertRecord = { state: "down", since: "2026-06-01T03:30:00Z", reasons: ["missed"] };
    const { next, events } = step({
      previous,
      check: down(["missed", "export-missing"], "2026-06-01T05:00:00Z"),
    });
    expect(events).toEqual([]);
    expect(next).toEqual({
      state: "down",
      since: "2026-06-01T03:30:00Z",
      reasons: ["missed", "export-missing"],
    });
  });

  it("emits Check Up once when the down period ends", () => {
    const previous: AlertRecord = { state: "down", since: "2026-06-01T03:30:00Z", reasons: ["missed"] };
    const { next, events } = step({ previous, check: up, now: at("2026-06-01T04:15:00Z") });
    expect(next).toEqual({ state: "up", since: "2026-06-01T04:15:00.000Z", reasons: [] });
    expect(events.map((e) => e.detailType)).toEqual(["Check Up"]);
    expect(events[0]?.detail.since).toBe("2026-06-01T03:30:00Z");
  });

  it("stays quiet while up", () => {
    const previous: AlertRecord = { state: "up", since: "2026-05-01T00:00:00Z", reasons: [] };
    expect(step({ previous, check: { ...up, state: "grace" } })).toEqual({
      next: previous,
      events: [],
      suppressed: false,
    });
  });

  it("holds back Check Down while silenced and marks the record suppressed", () => {
    const result = step({ check: down(), silencedUntil: "2026-06-01T06:00:00Z" });
    expect(result.events).toEqual([]);
    expect(result.suppressed).toBe(true);
    expect(result.next).toMatchObject({
      state: "down",
      suppressed: true,
      silencedUntil: "2026-06-01T06:00:00Z",
    });
  });

  it("sends the held-back Check Down when the silence ends and the check is still down", () => {
    const previous: AlertRecord = {
      state: "down",
      since: "2026-06-01T03:30:00Z",
      reasons: ["missed"],
      suppressed: true,
      silencedUntil: "2026-06-01T06:00:00Z",
    };
    expect(
      step({
        previous,
        check: down(),
        silencedUntil: "2026-06-01T06:00:00Z",
        now: at("2026-06-01T05:59:59Z"),
      }).events,
    ).toEqual([]);
    const result = step({
      previous,
      check: down(),
      silencedUntil: "2026-06-01T06:00:00Z",
      now: at("2026-06-01T06:00:00Z"),
    });
    expect(result.events.map((e) => [e.detailType, e.detail.since])).toEqual([
      ["Check Down", "2026-06-01T03:30:00Z"],
    ]);
    expect(result.next).toEqual({ state: "down", since: "2026-06-01T03:30:00Z", reasons: ["missed"] });
  });

  it("sends nothing when a check recovers before its silence ends", () => {
    const previous: AlertRecord = {
      state: "down",
      since: "2026-06-01T03:30:00Z",
      reasons: ["missed"],
      suppressed: true,
    };
    const result = step({
      previous,
      check: up,
      silencedUntil: "2026-06-01T06:00:00Z",
      now: at("2026-06-01T04:00:00Z"),
    });
    expect(result.events).toEqual([]);
    expect(result.next.state).toBe("up");
  });

  it("still closes an announced incident with Check Up under a silence", () => {
    const previous: AlertRecord = { state: "down", since: "2026-06-01T03:30:00Z", reasons: ["missed"] };
    const result = step({
      previous,
      check: up,
      silencedUntil: "2026-06-01T06:00:00Z",
      now: at("2026-06-01T04:00:00Z"),
    });
    expect(result.events.map((e) => e.detailType)).toEqual(["Check Up"]);
  });

  it("closes the incident when the schedule is paused", () => {
    const previous: AlertRecord = { state: "down", since: "2026-06-01T03:30:00Z", reasons: ["missed"] };
    const result = step({ previous, check: { name: "nightly", state: "paused", reasons: [] } });
    expect(result.events[0]?.detail.message).toContain("paused");
  });

  it("emits exactly one Down per incident and alternates Down/Up over any sequence of evaluations", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), (downs) => {
        let previous: AlertRecord | undefined;
        const emitted: string[] = [];
        downs.forEach((isDown, i) => {
          const result = nextAlertState({
            cluster,
            previous,
            check: isDown ? down(i % 2 ? ["failed"] : ["missed"]) : up,
            now: new Date(Date.UTC(2026, 5, 1, i)),
          });
          previous = result.next;
          emitted.push(...result.events.map((e) => e.detailType));
        });
        const incidents = downs.filter((d, i) => d && (i === 0 || !downs[i - 1])).length;
        expect(emitted.filter((e) => e === "Check Down")).toHaveLength(incidents);
        emitted.forEach((e, i) => {
          expect(e).toBe(i % 2 === 0 ? "Check Down" : "Check Up");
        });
      }),
    );
  });
});

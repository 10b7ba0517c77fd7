// What on-call reads for an external recovery point: its kind, app and newest point, and its kind's next
// step, in every channel's text (adapters/alerts/messages.ts), from a real evaluation and transition.
import { describeEvent, plainText } from "@kots-backup/adapters/alerts/messages";
import { pagerDutyEvent } from "@kots-backup/adapters/alerts/pagerduty";
import { nextAlertState } from "@kots-backup/core/alert-state";
import { type ExternalObservation, type ExternalPoint, evaluateExternal } from "@kots-backup/core/external";
import { externalWords } from "@kots-backup/core/usecases/verify-external";
import { describe, expect, it } from "vitest";

const now = new Date("2026-06-10T12:00:00Z");
function down(point: Partial<ExternalPoint>, observation: ExternalObservation) {
  const p: ExternalPoint = {
    name: "orders-db",
    kind: "rds",
    app: "orders",
    period: 86_400_000,
    grace: 3_600_000,
    paused: false,
    ...point,
  };
  const check = evaluateExternal(p, observation, now, { firstSeenAt: "2026-06-01T00:00:00Z" });
  const [event] = nextAlertState({ cluster: "prod", check, now, words: externalWords("prod", check) }).events;
  if (!event) throw new Error("no event");
  return event;
}

describe("external recovery points in the channels' texts", () => {
  it("RDS snapshots that stopped last month: the point, its app, its newest snapshot and the RDS step", () => {
    const event = down(
      {},
      {
        reachable: true,
        newestAt: "2026-05-08T03:00:00Z",
        newestId: "rds:orders-2026-05-08-03-00",
        encrypted: true,
        detail: "newest snapshot rds:orders-2026-05-08-03-00 at 2026-05-08T03:00:00Z",
      },
    );
    const text = describeEvent(event);
    expect(text.summary).toBe(
      "kots-backup prod/external:orders-db is DOWN: the newest recovery point is older than its period and grace",
    );
    expect(text.facts).toContain("Cluster: prod, external recovery point: orders-db (rds, app orders)");
    expect(text.facts).toContain(
      "Newest recovery point: rds:orders-2026-05-08-03-00 at 2026-05-08T03:00:00Z",
    );
    expect(text.nextSteps).toEqual([expect.stringMatching(/^missed: .*aws rds create-db-snapshot/)]);
    expect(plainText(event)).toContain("dedup key kots-backup:prod:external:orders-db");
    expect(pagerDutyEvent(event, "R0UTING").dedup_key).toBe("kots-backup:prod:external:orders-db");
  });

  it("a command that cannot be run: unreachable, with the command's step; nothing about Velero", () => {
    const event = down(
      { kind: "command", name: "redis-rdb", grace: 0 },
      { reachable: false, detail: "/usr/local/bin/newest-rdb exited 3" },
    );
    const text = describeEvent(event);
    expect(text.summary).toContain("is DOWN: the source cannot be read");
    expect(text.facts).toContain("Newest recovery point: none recorded");
    expect(text.nextSteps).toEqual([expect.stringMatching(/^unreachable: Run the command by hand/)]);
    expect(JSON.stringify(text)).not.toMatch(/velero|kots-backup backup/);
  });
});

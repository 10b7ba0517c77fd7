import { describe, expect, it } from "vitest";
import type { BackupSummary } from "../backups.ts";
import { parseConfig } from "../config.ts";
import { exportCandidates } from "./reconcile.ts";

const now = new Date("2026-11-24T12:00:00Z");
const config = parseConfig({
  cluster: { name: "c" },
  schedules: [
    { name: "nightly", cron: "0 2 * * *" },
    { name: "app", cron: "0 * * * *", type: "partial", app: "my-app" },
    { name: "paused", cron: "0 3 * * *", paused: true },
    { name: "not-exported", cron: "0 4 * * *", type: "partial", app: "other", export: false },
  ],
});

function summary(name: string, fields: Partial<BackupSummary>): BackupSummary {
  return {
    name,
    type: "full",
    phase: "Completed",
    status: "Completed",
    trigger: "manual",
    errors: 0,
    warnings: 0,
    ...fields,
  };
}

const backups = [
  summary("full-old", { requestedAt: "2026-11-23T02:00:00Z" }),
  summary("full-new", { requestedAt: "2026-11-24T02:00:00Z" }),
  summary("full-failed", { requestedAt: "2026-11-24T03:00:00Z", phase: "Failed", status: "Failed" }),
  summary("full-partly", { requestedAt: "2026-11-24T04:00:00Z", phase: "PartiallyFailed", status: "Failed" }),
  summary("app-1", { type: "partial", app: "my-app", requestedAt: "2026-11-24T11:00:00Z" }),
  summary("other-1", { type: "partial", app: "other", requestedAt: "2026-11-24T11:00:00Z" }),
];
const names = new Set(backups.map((b) => b.name));

describe("exportCandidates", () => {
  it("takes each exported, active schedule's newest exportable backup, whoever started it", () => {
    // Not `paused` (paused), not `not-exported` (export: false).
    expect(exportCandidates(config.schedules, backups, names, false, now)).toEqual([
      { backup: "full-new", schedule: "nightly" },
      { backup: "app-1", schedule: "app" },
    ]);
  });

  it("takes a PartiallyFailed backup only when the config includes them", () => {
    const chosen = exportCandidates(config.schedules, backups, names, true, now);
    expect(chosen.find((c) => c.schedule === "nightly")?.backup).toBe("full-partly");
  });

  it("skips an entry that is not a Backup of the cluster (an improved-DR pair's rolled-up name)", () => {
    const withoutNew = new Set([...names].filter((n) => n !== "full-new"));
    const chosen = exportCandidates(config.schedules, backups, withoutNew, false, now);
    expect(chosen.find((c) => c.schedule === "nightly")?.backup).toBe("full-old");
  });

  it("never lets a backup dated in the future stand in front of the real newest one", () => {
    const skewed = [...backups, summary("full-2099", { requestedAt: "2099-01-01T00:00:00Z" })];
    const chosen = exportCandidates(config.schedules, skewed, new Set([...names, "full-2099"]), false, now);
    expect(chosen.find((c) => c.schedule === "nightly")?.backup).toBe("full-new");
  });
});

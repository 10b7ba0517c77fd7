import { DetailType } from "@kots-backup/core";
import { nextStep } from "@kots-backup/core/runbook";
import { describe, expect, it } from "vitest";
import {
  CheckReason,
  describeEvent,
  formatDuration,
  plainText,
  RUNBOOK,
  summaryOf,
} from "../../packages/adapters/src/alerts/messages.ts";
import { backupCompleted, backupFailed, checkDown, checkUp, event, exportFailed } from "./fixtures.ts";

describe("describeEvent", () => {
  it("says what is down, since when, the last good backup and export, and the next step per reason", () => {
    const t = describeEvent(checkDown);
    expect(t.tone).toBe("bad");
    expect(t.title).toBe("DOWN prod-east/nightly: missed, export-missing");
    expect(t.summary).toBe(
      "kots-backup prod-east/nightly is DOWN: a scheduled backup did not start; the latest backup was not exported",
    );
    expect(t.facts).toEqual([
      "Cluster: prod-east, schedule: nightly",
      "Since: 2025-03-04T02:00:00Z (3h 6m)",
      "Expected by: 2025-03-04T03:00:00Z",
      "Last good backup: instance-abc12 at 2025-03-03T02:04:11Z",
      "Last export: 2025-03-03T02:30:00Z",
    ]);
    expect(t.nextSteps).toEqual([
      `missed: ${RUNBOOK.missed}`,
      `export-missing: ${nextStep("export-missing", { schedule: "nightly" })}`,
    ]);
  });

  it("has a runbook line for every reason of the contract", () => {
    for (const reason of Object.values(CheckReason)) {
      const t = describeEvent(event(DetailType.checkDown, { reasons: [reason] }));
      expect(t.nextSteps).toEqual([`${reason}: ${nextStep(reason, { schedule: "nightly" })}`]);
      expect(t.facts).toContain("Last good backup: none recorded");
    }
  });

  it("tells how long a check was down when it comes back up", () => {
    const t = describeEvent(checkUp);
    expect(t.tone).toBe("good");
    expect(t.summary).toBe("kots-backup prod-east/nightly is UP again after 4h 12m down");
    expect(t.facts).toContain("Down since: 2025-03-04T02:00:00Z");
    expect(t.nextSteps).toEqual([]);
  });

  it("names the failed backup, its phase and error, and the next step", () => {
    const t = describeEvent(backupFailed);
    expect(t.summary).toBe(
      "kots-backup prod-east/nightly: backup instance-xyz89 failed (PartiallyFailed): 2 items failed: pod volume backup timed out",
    );
    expect(t.facts).toContain("Backup: instance-xyz89");
    expect(t.nextSteps[0]).toMatch(/^failed: /);
    expect(describeEvent(exportFailed).nextSteps[0]).toMatch(/^export-invalid: /);
    expect(describeEvent(backupCompleted).tone).toBe("good");
  });

  it("keeps unknown reasons as they are and works without a schedule", () => {
    const t = describeEvent(event(DetailType.checkDown, { reasons: ["something-new"], schedule: undefined }));
    expect(t.summary).toBe("kots-backup prod-east is DOWN: something-new");
    expect(t.nextSteps).toEqual([]);
  });

  it("clips the summary and title", () => {
    const long = event(DetailType.backupFailed, { backup: "b", error: "x".repeat(5000) });
    expect(summaryOf(long)).toHaveLength(1024);
    expect(summaryOf(long).endsWith("…")).toBe(true);
    expect(
      describeEvent(event(DetailType.checkDown, { reasons: ["r".repeat(400)] })).title.length,
    ).toBeLessThanOrEqual(150);
  });
});

describe("plainText and formatDuration", () => {
  it("puts summary, facts, next steps and the event reference in plain lines", () => {
    const text = plainText(checkDown);
    expect(text.split("\n")[0]).toBe(describeEvent(checkDown).summary);
    expect(text).toContain("Next step:\n- missed: ");
    expect(text).toContain(
      "Event: Check Down at 2025-03-04T05:06:07Z (dedup key kots-backup:prod-east:nightly)",
    );
  });

  it("formats durations", () => {
    expect(formatDuration("2025-01-01T00:00:00Z", "2025-01-01T00:00:30Z")).toBe("under a minute");
    expect(formatDuration("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z")).toBe("1h");
    expect(formatDuration("2025-01-01T00:00:00Z", "2025-01-03T05:07:00Z")).toBe("2d 5h");
    expect(formatDuration("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z")).toBeUndefined();
  });
});

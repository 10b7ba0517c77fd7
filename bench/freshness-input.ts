// A large, deterministic `verify` input: `scheduleCount` schedules (half full, half partial for one app
// each, crons in several time zones) and `backupCount` backups spread over the past year (mostly
// Completed, some failed, a few in progress), each completed one with a verified export record.
import type { BackupSummary } from "@kots-backup/core/backups";
import type { CheckSchedule, ExportRecord, FreshnessInput } from "@kots-backup/core/freshness";

const HOUR = 3_600_000;
const ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"];
const CRONS = ["0 2 * * *", "30 */6 * * *", "0 * * * *", "15 3 * * 1-5", "0 0 * * 0"];

export function freshnessInput(scheduleCount: number, backupCount: number): FreshnessInput {
  const now = new Date("2026-06-15T12:00:00Z");
  const apps = Math.max(1, Math.floor(scheduleCount / 2));
  const schedules: CheckSchedule[] = [];
  for (let i = 0; i < scheduleCount; i++) {
    const partial = i % 2 === 1;
    schedules.push({
      name: `schedule-${i}`,
      cron: CRONS[i % CRONS.length] as string,
      timezone: ZONES[i % ZONES.length] as string,
      type: partial ? "partial" : "full",
      ...(partial ? { app: `app-${(i >> 1) % apps}` } : {}),
      grace: HOUR,
      maxDuration: 4 * HOUR,
      export: true,
      exportGrace: 2 * HOUR,
      paused: false,
    });
  }
  const backups: BackupSummary[] = [];
  const exports: ExportRecord[] = [];
  const span = 365 * 24 * HOUR;
  for (let i = 0; i < backupCount; i++) {
    const partial = i % 2 === 1;
    const requested = now.getTime() - span + Math.floor((span * (i + 1)) / (backupCount + 1));
    const roll = (i * 2654435761) % 100;
    const status = i >= backupCount - 4 ? "InProgress" : roll < 3 ? "Failed" : "Completed";
    const name = `backup-${String(i).padStart(6, "0")}`;
    const summary: BackupSummary = {
      name,
      type: partial ? "partial" : "full",
      ...(partial ? { app: `app-${(i >> 1) % apps}` } : {}),
      phase: status === "InProgress" ? "InProgress" : status === "Failed" ? "PartiallyFailed" : "Completed",
      status,
      trigger: i % 3 === 0 ? "manual" : "schedule",
      requestedAt: new Date(requested).toISOString(),
      startedAt: new Date(requested + 5_000).toISOString(),
      ...(status === "InProgress" ? {} : { completedAt: new Date(requested + 10 * 60_000).toISOString() }),
      errors: status === "Failed" ? 1 : 0,
      warnings: 0,
    };
    backups.push(summary);
    if (status === "Completed") {
      exports.push({
        backup: name,
        exportedAt: new Date(requested + 30 * 60_000).toISOString(),
        verified: true,
      });
    }
  }
  backups.reverse(); // newest first, as `ls` lists them
  const firstSeenAt = Object.fromEntries(
    schedules.map((s) => [s.name, new Date(now.getTime() - span - 24 * HOUR).toISOString()]),
  );
  return { schedules, backups, exports, firstSeenAt, bslAvailable: true, clusterReachable: true, now };
}

// Human text for each event: what is wrong (or what happened), since when, the last good backup and
// export, and the next step. Pure functions of the event; Slack, SNS and PagerDuty all use them.
//
// Besides the contract's detail fields (cluster, schedule, backup, reasons, since, dedupKey,
// message) these optional extras are shown when present: `lastSuccessAt`, `lastBackup` (name of the
// last good backup), `lastExportAt`, `expectedBy`, `error` (why a backup/export failed), `phase`,
// `backups` (per reason, the backup it is about) and `restorePoint`. The next steps are core's runbook
// with those names filled in.
import { type CheckReason, DetailType, ExternalKind, type KotsBackupEvent } from "@kots-backup/core";
import { externalNextStep, externalReasonText } from "@kots-backup/core/external";
import { nextStep, shellArg } from "@kots-backup/core/runbook";

// The reasons are freshness.ts's (core); re-exported so channel code and tests find them here.
export { CheckReason } from "@kots-backup/core";

/** What each reason means, as a phrase. */
export const REASON_TEXT: Record<CheckReason, string> = {
  missed: "a scheduled backup did not start",
  failed: "the latest backup failed",
  stuck: "a backup has run longer than its maxDuration",
  "export-missing": "the latest backup was not exported",
  "export-invalid": "an export did not verify against its manifest",
  "never-succeeded": "this schedule has never completed a backup",
  "bsl-unavailable": "Velero's backup storage location is Unavailable",
  "cluster-unreachable": "kots-backup cannot reach the cluster",
  "clock-skew": "a backup is dated in the future, so it counts for nothing",
  unreachable: "the source of a recovery point cannot be read",
  unencrypted: "the newest recovery point is not encrypted",
  unprotected: "the data is not protected",
  "drill-failed": "the newest restore drill found an export a restore could not start from",
  "drill-missed": "no restore drill ran since its last scheduled slot",
};

/** The runbook line for each reason with nothing named (core's runbook.ts; pages fill in the names). */
export const RUNBOOK: Partial<Record<CheckReason, string>> = Object.fromEntries(
  Object.keys(REASON_TEXT).flatMap((r) => {
    const step = nextStep(r);
    return step ? [[r, step]] : [];
  }),
);

export type Tone = "bad" | "good" | "neutral";

export interface EventText {
  /** Short headline, ≤ 150 characters: Slack header, email subject. */
  title: string;
  /** One line with the essentials: PagerDuty summary, SNS subject source. */
  summary: string;
  /** Facts, one per line (`Since: …`, `Last good backup: …`). */
  facts: string[];
  /** What to do next, one line per reason (empty for good news). */
  nextSteps: string[];
  tone: Tone;
}

const TITLE_MAX = 150;

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function isCheckReason(value: string): value is CheckReason {
  return Object.hasOwn(REASON_TEXT, value);
}

/** `cluster/schedule`, or just the cluster. */
export function subjectOf(event: KotsBackupEvent): string {
  const { cluster, schedule } = event.detail;
  return schedule ? `${cluster}/${schedule}` : cluster;
}

/** Whole minutes/hours/days between two RFC 3339 instants, e.g. `3h 20m`; undefined if unparsable. */
export function formatDuration(fromIso: string, toIso: string): string | undefined {
  const from = Date.parse(fromIso);
  const to = Date.parse(toIso);
  if (Number.isNaN(from) || Number.isNaN(to) || to < from) return undefined;
  const minutes = Math.floor((to - from) / 60_000);
  if (minutes < 1) return "under a minute";
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : "", h ? `${h}h` : "", m && !d ? `${m}m` : ""].filter(Boolean).join(" ") || "0m";
}

function reasonsOf(event: KotsBackupEvent): string[] {
  return Array.isArray(event.detail.reasons) ? event.detail.reasons.filter((r) => typeof r === "string") : [];
}

function reasonPhrase(reason: string): string {
  return isCheckReason(reason) ? REASON_TEXT[reason] : reason;
}

/** An external recovery point's event detail (`detail.external`), or undefined for a schedule's event. */
function externalOf(
  event: KotsBackupEvent,
): { name: string; kind: ExternalKind; app: string; newestId?: string } | undefined {
  const e = event.detail.external as Record<string, unknown> | undefined;
  const kind = e?.kind;
  if (typeof kind !== "string" || !Object.values(ExternalKind).includes(kind as ExternalKind))
    return undefined;
  const newestId = str(e?.newestId);
  return {
    name: str(e?.name) ?? "?",
    kind: kind as ExternalKind,
    app: str(e?.app) ?? "?",
    ...(newestId ? { newestId } : {}),
  };
}

/** An external point's phrases and steps are its kind's (core's external.ts), not a schedule's. */
function externalText(kind: ExternalKind, reasons: string[]): { what: string; steps: string[] } {
  const known = reasons.filter(isCheckReason);
  return {
    what: known.map(externalReasonText).join("; ") || "the check is down",
    steps: known.filter((r) => r !== "never-succeeded").map((r) => `${r}: ${externalNextStep(kind, r)}`),
  };
}

/** The next step per reason, naming the event's schedule and the backup each reason is about. */
function stepsFor(event: KotsBackupEvent, reasons: string[]): string[] {
  const d = event.detail;
  const perReason = (d.backups ?? {}) as Record<string, unknown>;
  return reasons.flatMap((r) => {
    const backup = str(perReason[r]) ?? str(d.backup);
    const schedule = str(d.schedule);
    const step = nextStep(r, { ...(schedule ? { schedule } : {}), ...(backup ? { backup } : {}) });
    return step ? [`${r}: ${step}`] : [];
  });
}

function commonFacts(event: KotsBackupEvent): string[] {
  const d = event.detail;
  const facts: string[] = [];
  const since = str(d.since);
  if (since) {
    const age = formatDuration(since, event.time);
    facts.push(`Since: ${since}${age ? ` (${age})` : ""}`);
  }
  const expectedBy = str(d.expectedBy);
  if (expectedBy) facts.push(`Expected by: ${expectedBy}`);
  const external = externalOf(event);
  const lastBackupName = str(d.lastBackup);
  // A backup name is shown as a shell argument; an external point's id (an ARN, a snapshot id) as is.
  const lastBackup = lastBackupName !== undefined ? shellArg(lastBackupName) : external?.newestId;
  const lastSuccessAt = str(d.lastSuccessAt);
  if (lastBackup || lastSuccessAt) {
    facts.push(
      `${external ? "Newest recovery point" : "Last good backup"}: ${[lastBackup, lastSuccessAt && `at ${lastSuccessAt}`].filter(Boolean).join(" ")}`,
    );
  } else if (event.detailType === DetailType.checkDown) {
    facts.push(`${external ? "Newest recovery point" : "Last good backup"}: none recorded`);
  }
  const lastExportAt = str(d.lastExportAt);
  if (lastExportAt) facts.push(`Last export: ${lastExportAt}`);
  const restore = d.restorePoint as
    | { backup?: unknown; exportedAt?: unknown; restoreCommand?: unknown }
    | undefined;
  const restoreBackup = str(restore?.backup);
  if (restoreBackup) {
    const exportedAt = str(restore?.exportedAt);
    const command = str(restore?.restoreCommand);
    facts.push(
      `Restore point: ${shellArg(restoreBackup)}${exportedAt ? ` (exported ${exportedAt})` : " (on the cluster's BSL only)"}${command ? `: \`${command}\`` : ""}`,
    );
  }
  return facts;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The text of an event. */
export function describeEvent(event: KotsBackupEvent): EventText {
  const d = event.detail;
  const who = subjectOf(event);
  // Backup names come from the cluster: shown as shell arguments (as is when a Kubernetes name).
  const named = str(d.backup);
  const backup = named !== undefined ? shellArg(named) : undefined;
  const reasons = reasonsOf(event);
  const error = str(d.error);
  const phase = str(d.phase);
  const backupName = backup ? `backup ${backup}` : "a backup";
  let title: string;
  let summary: string;
  let tone: Tone = "neutral";
  let facts = commonFacts(event);
  let nextSteps: string[] = [];

  switch (event.detailType) {
    case DetailType.checkDown: {
      tone = "bad";
      const kind = externalOf(event)?.kind;
      const external = kind ? externalText(kind, reasons) : undefined;
      const what =
        external?.what ?? (reasons.length ? reasons.map(reasonPhrase).join("; ") : "the check is down");
      title = `DOWN ${who}: ${reasons.join(", ") || "down"}`;
      summary = `kots-backup ${who} is DOWN: ${what}`;
      nextSteps = external?.steps ?? stepsFor(event, reasons);
      break;
    }
    case DetailType.checkUp: {
      tone = "good";
      const since = str(d.since);
      const downFor = since ? formatDuration(since, event.time) : undefined;
      title = `UP ${who}: recovered`;
      summary = `kots-backup ${who} is UP again${downFor ? ` after ${downFor} down` : ""}`;
      facts = facts.filter((f) => !f.startsWith("Since:"));
      if (since) facts.unshift(`Down since: ${since}`);
      break;
    }
    case DetailType.backupFailed: {
      tone = "bad";
      title = `Backup failed ${who}${backup ? `: ${backup}` : ""}`;
      summary = `kots-backup ${who}: ${backupName} failed${phase ? ` (${phase})` : ""}${error ? `: ${error}` : ""}`;
      nextSteps = stepsFor(event, ["failed"]);
      break;
    }
    case DetailType.exportFailed: {
      tone = "bad";
      title = `Export failed ${who}${backup ? `: ${backup}` : ""}`;
      summary = `kots-backup ${who}: export of ${backup ?? "a backup"} failed${error ? `: ${error}` : ""}`;
      nextSteps = stepsFor(
        event,
        reasons.includes("export-invalid") ? ["export-invalid"] : ["export-missing"],
      );
      break;
    }
    case DetailType.backupStarted:
      title = `Backup started ${who}${backup ? `: ${backup}` : ""}`;
      summary = `kots-backup ${who}: ${backupName} started`;
      break;
    case DetailType.backupCompleted:
      tone = "good";
      title = `Backup completed ${who}${backup ? `: ${backup}` : ""}`;
      summary = `kots-backup ${who}: ${backupName} completed${phase && phase !== "Completed" ? ` (${phase})` : ""}`;
      break;
    case DetailType.backupSkipped:
      title = `Backup skipped ${who}`;
      summary = `kots-backup ${who}: scheduled backup skipped${str(d.message) ? `: ${d.message}` : ""}`;
      break;
    case DetailType.exportCompleted:
      tone = "good";
      title = `Export completed ${who}${backup ? `: ${backup}` : ""}`;
      summary = `kots-backup ${who}: export of ${backup ?? "a backup"} completed and verified`;
      break;
    default:
      title = `${String(event.detailType)} ${who}`;
      summary = `kots-backup ${who}: ${String(event.detailType)}`;
  }

  if (backup) facts.unshift(`Backup: ${backup}`);
  const external = externalOf(event);
  facts.unshift(
    external
      ? `Cluster: ${d.cluster}, external recovery point: ${external.name} (${external.kind}, app ${external.app})`
      : `Cluster: ${d.cluster}${d.schedule ? `, schedule: ${d.schedule}` : ""}`,
  );
  const message = str(d.message);
  if (message && !summary.includes(message)) facts.push(`Note: ${message}`);
  return { title: clip(title, TITLE_MAX), summary, facts, nextSteps, tone };
}

/** Summary clipped to `max` characters (PagerDuty: 1,024). */
export function summaryOf(event: KotsBackupEvent, max = 1024): string {
  return clip(describeEvent(event).summary, max);
}

/** Plain multi-line text: summary, facts, next steps. For SNS/email and Slack's fallback. */
export function plainText(event: KotsBackupEvent): string {
  const t = describeEvent(event);
  const lines = [t.summary, "", ...t.facts];
  if (t.nextSteps.length) lines.push("", "Next step:", ...t.nextSteps.map((s) => `- ${s}`));
  lines.push("", `Event: ${event.detailType} at ${event.time} (dedup key ${event.detail.dedupKey})`);
  return lines.join("\n");
}

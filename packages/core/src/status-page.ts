// The status page (`kots-backup status --html <file>`): one self-contained HTML document (inline CSS
// and SVG, no scripts, fonts or images from elsewhere) with, per schedule, its current state and a
// timeline of expected slots vs backups (by outcome) vs exports, and the last good restore point.
// Pure: the model is built from verify's facts and `now`; rendering is a function of the model.
//
// The banner and the timeline never disagree: slots are judged as verify judges them (the same
// attempts, none dated in the future; nothing expected before the schedule was first seen, which the
// page draws as "not monitored"; nothing known while the cluster cannot be read). A missed slot that no
// later backup followed is a check that is down, so the banner says so; missed or late slots that later
// backups did follow keep the banner from saying "healthy" without naming them.

import { type BackupSummary, isFutureDated } from "./backups.ts";
import { type DrillRun, type DrillRunSummary, drillRunSummaries, drillSeconds } from "./drill.ts";
import {
  attemptTime,
  type CheckSchedule,
  matchesSchedule,
  type RestorePoint,
  SLOT_TOLERANCE_MS,
} from "./freshness.ts";
import type { AppRecoverability } from "./recoverability.ts";
import { slotsBetween } from "./schedule.ts";
import { environmentOf, type VerifyCheck, type VerifyFacts } from "./usecases/verify.ts";
import type { CheckRecord } from "./usecases/verify-state.ts";
import { isTerminalPhase, KotsStatus } from "./velero.ts";

export type BackupOutcome = "completed" | "partially-failed" | "failed" | "in-progress" | "stuck";

export interface TimelineBackup {
  name: string;
  outcome: BackupOutcome;
  phase: string;
  trigger: string;
  /** ms since epoch */
  start: number;
  /** ms since epoch; undefined while running. */
  end?: number;
}

export interface TimelineExport {
  backup: string;
  at: number;
  verified: boolean;
  bytes?: number;
}

export interface TimelineSlot {
  at: number;
  /**
   * `covered`: an attempt came by the end of grace; `late`: one came after grace, before the next slot
   * (the check was down meanwhile); `missed`: none came; `due`: within grace now; `not-monitored`: at
   * or before the schedule was first seen (verify expects nothing then); `unknown`: the cluster's
   * backups cannot be read now.
   */
  status: "covered" | "late" | "missed" | "due" | "not-monitored" | "unknown";
}

export interface StatusScheduleModel {
  name: string;
  paused: boolean;
  /** Exports are required for this schedule (`export: true`). */
  exportRequired: boolean;
  cron: string;
  timezone: string;
  type: string;
  app?: string;
  check: VerifyCheck;
  slots: TimelineSlot[];
  backups: TimelineBackup[];
  exports: TimelineExport[];
  restorePoint?: RestorePoint;
  nextSlot?: number;
  /** ms since epoch: when verify first saw the schedule; slots until then are not monitored. */
  monitoredSince: number;
}

export interface StatusPageModel {
  cluster: string;
  generatedAt: string;
  /** Timeline window, ms since epoch. */
  from: number;
  to: number;
  clusterReachable: boolean;
  clusterError?: string;
  bslPhase?: string;
  destination?: string;
  schedules: StatusScheduleModel[];
  /** Recoverability per app (recoverability.ts); set by the caller, shown above the schedules. */
  apps?: AppRecoverability[];
  /** The last restore drill runs, newest first (statusDrills); set by the caller with `drill:`. */
  drills?: StatusDrillRun[];
}

/** One drill run as status shows it: its summary, and its restore time when a live drill recorded one. */
export type StatusDrillRun = DrillRunSummary & {
  /** The slowest restore of the run (its RTO), from the Restore's creation to Completed. */
  restoreMs?: number;
};

/**
 * The restore time (RTO) over the runs shown: the newest recorded one, against the median of the runs
 * before it that recorded one. `live: false` when none did: no live drill is configured.
 */
export type DrillRto =
  | { live: false }
  | { live: true; at: string; restoreMs: number; previous?: { medianMs: number; runs: number } };

/** What status shows of the drill, from the runs newest first (readDrillRuns). */
export function statusDrills(runs: readonly DrillRun[]): { drills: StatusDrillRun[]; drillRto: DrillRto } {
  // drillRunSummaries keeps the runs' order (the first DRILL_RUNS_SHOWN): summary i is run i.
  const drills = drillRunSummaries(runs).map((summary, i): StatusDrillRun => {
    const times = (runs[i]?.results ?? []).flatMap((r) => (r.restoreMs === undefined ? [] : [r.restoreMs]));
    return times.length === 0 ? summary : { ...summary, restoreMs: Math.max(...times) };
  });
  return { drills, drillRto: drillRto(drills) };
}

/** The middle value, or the mean of the two middle values. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.slice(Math.ceil(sorted.length / 2) - 1, Math.floor(sorted.length / 2) + 1);
  return middle.reduce((sum, v) => sum + v, 0) / middle.length;
}

/** The RTO trend of runs newest first (statusDrills' drills). */
export function drillRto(drills: readonly StatusDrillRun[]): DrillRto {
  const times = drills.flatMap((r) => (r.restoreMs === undefined ? [] : [{ at: r.at, ms: r.restoreMs }]));
  const [newest, ...before] = times;
  if (!newest) return { live: false };
  return {
    live: true,
    at: newest.at,
    restoreMs: newest.ms,
    ...(before.length > 0
      ? { previous: { medianMs: median(before.map((t) => t.ms)), runs: before.length } }
      : {}),
  };
}

/** The RTO in one line, for the terminal and the page. */
export function rtoLine(rto: DrillRto): string {
  if (!rto.live) return "RTO: no live drill configured (no drill run recorded a restore time)";
  const trend = rto.previous
    ? `median ${drillSeconds(rto.previous.medianMs)} over the ${plural(rto.previous.runs, "run")} before`
    : "no earlier live drill to compare";
  return `RTO ${drillSeconds(rto.restoreMs)} (drill at ${rto.at}; ${trend})`;
}

const ms = (t: string | undefined) => (t === undefined ? Number.NaN : Date.parse(t));
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

function outcomeOf(b: BackupSummary, schedule: CheckSchedule, now: number): BackupOutcome {
  if (b.phase === "Completed") return "completed";
  if (b.phase === "PartiallyFailed") return "partially-failed";
  if (b.status === KotsStatus.Failed) return "failed";
  const started = ms(b.startedAt) || ms(b.requestedAt);
  if (!isTerminalPhase(b.phase) && now - started >= schedule.maxDuration) return "stuck";
  return "in-progress";
}

export interface StatusPageOptions {
  /** How far back the timeline goes (default 7 days). */
  windowMs?: number;
  destination?: string;
  /** The checks' persisted records: when each schedule was first seen. */
  records?: ReadonlyMap<string, CheckRecord | undefined>;
}

/** The page's model from verify's facts and checks. */
export function statusPageModel(
  facts: VerifyFacts,
  schedules: readonly CheckSchedule[],
  checks: readonly VerifyCheck[],
  options: StatusPageOptions = {},
): StatusPageModel {
  const now = facts.now.getTime();
  const from = now - (options.windowMs ?? 7 * 86_400_000);
  const models = schedules.map((schedule): StatusScheduleModel => {
    const check = checks.find((c) => c.name === schedule.name) ?? {
      name: schedule.name,
      state: "new",
      reasons: [],
    };
    const matching = facts.backups.filter((b) => matchesSchedule(b, schedule));
    const backups: TimelineBackup[] = matching
      .map((b) => {
        const start = ms(b.startedAt) || ms(b.requestedAt);
        const end = ms(b.completedAt);
        return {
          name: b.name,
          outcome: outcomeOf(b, schedule, now),
          phase: b.phase,
          trigger: b.trigger,
          start,
          ...(Number.isNaN(end) ? {} : { end }),
        };
      })
      .filter((b) => !Number.isNaN(b.start) && (b.end ?? now) >= from)
      .sort((a, b) => a.start - b.start);
    const names = new Set(matching.map((b) => b.name));
    const exports: TimelineExport[] = facts.exports
      .filter((e) => names.has(e.backup))
      .map((e) => ({
        backup: e.backup,
        at: ms(e.exportedAt),
        verified: e.verified,
        ...(e.bytes !== undefined ? { bytes: e.bytes } : {}),
      }))
      .filter((e) => !Number.isNaN(e.at) && e.at >= from)
      .sort((a, b) => a.at - b.at);
    // The attempts verify counts: none dated in the future.
    const attempts = matching
      .filter((b) => !isFutureDated(b, facts.now))
      .map(attemptTime)
      .filter((t) => !Number.isNaN(t));
    const environment = environmentOf(facts, schedule, options.records?.get(schedule.name));
    const monitoredSince = ms(environment.firstSeenAt) || now;
    const backupsKnown = environment.clusterUnreachableSince === undefined;
    const windowSlots = schedule.paused
      ? []
      : slotsBetween(schedule, new Date(from), new Date(now + 86_400_000));
    const slots: TimelineSlot[] = windowSlots
      .filter((s) => s.getTime() <= now)
      .map((slot, i, all) => {
        const at = slot.getTime();
        if (at <= monitoredSince) return { at, status: "not-monitored" };
        if (!backupsKnown) return { at, status: "unknown" };
        const until = all[i + 1]?.getTime() ?? now + 1;
        const inSlot = attempts.filter((t) => t >= at - SLOT_TOLERANCE_MS && t < until);
        const status: TimelineSlot["status"] = inSlot.some((t) => t <= at + schedule.grace)
          ? "covered"
          : inSlot.length > 0
            ? "late"
            : at + schedule.grace <= now
              ? "missed"
              : "due";
        return { at, status };
      });
    const next = windowSlots.find((s) => s.getTime() > now);
    // The check's restore point: the destination's word, whatever the cluster's state.
    const point = check.restorePoint;
    return {
      name: schedule.name,
      paused: schedule.paused,
      exportRequired: schedule.export,
      cron: schedule.cron,
      timezone: schedule.timezone ?? "UTC",
      type: schedule.type,
      ...(schedule.app ? { app: schedule.app } : {}),
      check,
      slots,
      backups,
      exports,
      ...(point ? { restorePoint: point } : {}),
      ...(next ? { nextSlot: next.getTime() } : {}),
      monitoredSince,
    };
  });
  return {
    cluster: facts.cluster,
    generatedAt: iso(now),
    from,
    to: now,
    clusterReachable: facts.clusterReachable,
    ...(facts.clusterError ? { clusterError: facts.clusterError } : {}),
    ...(facts.bslPhase ? { bslPhase: facts.bslPhase } : {}),
    ...(options.destination ? { destination: options.destination } : {}),
    schedules: models,
  };
}

// --- rendering -----------------------------------------------------------------------------------

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STATE_COLOR: Record<string, string> = {
  up: "#1a7f37",
  grace: "#9a6700",
  down: "#cf222e",
  paused: "#6e7781",
  new: "#0969da",
};

const OUTCOME_COLOR: Record<BackupOutcome, string> = {
  completed: "#2da44e",
  "partially-failed": "#e16f24",
  failed: "#cf222e",
  "in-progress": "#0969da",
  stuck: "#8250df",
};

const OUTCOME_LABEL: Record<BackupOutcome, string> = {
  completed: "Completed",
  "partially-failed": "Partially failed",
  failed: "Failed",
  "in-progress": "In progress",
  stuck: "Stuck (over maxDuration)",
};

const WIDTH = 1000;
const LEFT = 92;
const RIGHT = 16;
const LANE = 26;

function fmt(t: number): string {
  return new Date(t).toISOString().slice(0, 16).replace("T", " ");
}

function bytes(n: number | undefined): string {
  if (n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** The inline SVG timeline of one schedule. */
export function timelineSvg(model: StatusScheduleModel, from: number, to: number): string {
  const plot = WIDTH - LEFT - RIGHT;
  const x = (t: number) => LEFT + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * plot;
  const top = 8;
  const lanes = { slots: top, backups: top + LANE, exports: top + 2 * LANE };
  const axisY = top + 3 * LANE + 2;
  const height = axisY + 22;
  const parts: string[] = [];
  const t = (text: string) => `<title>${escapeHtml(text)}</title>`;

  // Lane backgrounds and labels.
  for (const [name, y] of Object.entries(lanes)) {
    parts.push(`<rect x="${LEFT}" y="${y}" width="${plot}" height="${LANE - 6}" class="lane"/>`);
    const label = name === "slots" ? "Expected" : name === "backups" ? "Backups" : "Exports";
    parts.push(
      `<text x="${LEFT - 8}" y="${y + (LANE - 6) / 2 + 4}" class="lbl" text-anchor="end">${label}</text>`,
    );
  }
  // Day grid and axis labels (UTC days); at most ~10 labels.
  const day = 86_400_000;
  const days = Math.ceil((to - from) / day);
  const every = Math.max(1, Math.ceil(days / 10));
  for (let d = Math.ceil(from / day) * day, i = 0; d <= to; d += day, i++) {
    const gx = x(d).toFixed(1);
    parts.push(`<line x1="${gx}" x2="${gx}" y1="${top}" y2="${axisY}" class="grid"/>`);
    if (i % every === 0) {
      parts.push(
        `<text x="${gx}" y="${axisY + 14}" class="axis" text-anchor="middle">${new Date(d).toISOString().slice(5, 10)}</text>`,
      );
    }
  }
  // Before monitoring began: a neutral band, since verify expected nothing there.
  if (model.monitoredSince > from && !model.paused) {
    const w = x(model.monitoredSince) - LEFT;
    parts.push(
      `<rect x="${LEFT}" y="${lanes.slots}" width="${w.toFixed(1)}" height="${LANE - 6}" class="unmonitored">${t(`not monitored before ${fmt(model.monitoredSince)} UTC (first seen by verify)`)}</rect>`,
    );
  }
  // Expected slots: a tick each; missed ones red and taller.
  for (const slot of model.slots) {
    const sx = x(slot.at).toFixed(1);
    const y = lanes.slots;
    const cls = `slot ${slot.status}`;
    const h = slot.status === "missed" || slot.status === "late" ? LANE - 6 : LANE - 12;
    parts.push(
      `<line x1="${sx}" x2="${sx}" y1="${y + (LANE - 6 - h) / 2}" y2="${y + (LANE - 6 + h) / 2}" class="${cls}">${t(`slot ${fmt(slot.at)} UTC: ${slot.status}`)}</line>`,
    );
  }
  // Backups: a bar from start to end (at least 3 px), coloured by outcome.
  for (const b of model.backups) {
    const bx = x(b.start);
    const w = Math.max(3, x(b.end ?? to) - bx);
    parts.push(
      `<rect x="${bx.toFixed(1)}" y="${lanes.backups + 2}" width="${w.toFixed(1)}" height="${LANE - 10}" rx="1.5" fill="${OUTCOME_COLOR[b.outcome]}">${t(
        `${b.name} (${b.trigger}): ${b.phase}, ${fmt(b.start)}${b.end ? ` → ${fmt(b.end)}` : " → running"} UTC`,
      )}</rect>`,
    );
  }
  // Exports: a diamond (verified) or a cross (did not verify).
  for (const e of model.exports) {
    const ex = x(e.at);
    const cy = lanes.exports + (LANE - 6) / 2;
    const tip = t(
      `export of ${e.backup} at ${fmt(e.at)} UTC${e.verified ? `, verified ${bytes(e.bytes)}` : ": did not verify"}`,
    );
    parts.push(
      e.verified
        ? `<path d="M${ex.toFixed(1)} ${cy - 6}l6 6l-6 6l-6 -6z" class="exp">${tip}</path>`
        : `<path d="M${(ex - 5).toFixed(1)} ${cy - 5}l10 10m0 -10l-10 10" class="exp-bad">${tip}</path>`,
    );
  }
  const note = (y: number, text: string) =>
    parts.push(`<text x="${LEFT + 8}" y="${y + (LANE - 6) / 2 + 4}" class="note">${escapeHtml(text)}</text>`);
  if (model.paused) note(lanes.slots, "paused: no slots expected");
  if (!model.exportRequired && model.exports.length === 0)
    note(lanes.exports, "exports not required for this schedule");
  // Now.
  const nx = x(to).toFixed(1);
  parts.push(`<line x1="${nx}" x2="${nx}" y1="${top - 4}" y2="${axisY}" class="now"/>`);
  parts.push(`<line x1="${LEFT}" x2="${LEFT + plot}" y1="${axisY}" y2="${axisY}" class="axisline"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="Timeline of ${escapeHtml(model.name)}">${parts.join("")}</svg>`;
}

function fact(label: string, value: string | undefined, html?: string): string {
  const shown = html ?? (value === undefined ? '<span class="muted">none</span>' : escapeHtml(value));
  return `<div class="fact"><dt>${escapeHtml(label)}</dt><dd>${shown}</dd></div>`;
}

function scheduleSection(model: StatusScheduleModel, page: StatusPageModel): string {
  const c = model.check;
  const color = STATE_COLOR[c.state] ?? "#6e7781";
  const silence = c.silencedUntil
    ? `<span class="silenced">silenced until ${escapeHtml(c.silencedUntil)}${c.silenceReason ? `: ${escapeHtml(c.silenceReason)}` : ""}</span>`
    : "";
  const rp = model.restorePoint;
  const restore = rp
    ? `${escapeHtml(rp.backup)}<br><span class="small">${rp.completedAt ? `completed ${escapeHtml(rp.completedAt)}<br>` : ""}${
        rp.exportedAt ? `exported ${escapeHtml(rp.exportedAt)}` : "not exported: on the cluster's BSL only"
      }${rp.restoreCommand ? `<br><code>${escapeHtml(rp.restoreCommand)}</code>` : ""}</span>`
    : undefined;
  const kind = model.type === "partial" ? `partial (${model.app ?? "?"})` : "full";
  const sinceLabel =
    c.state === "down"
      ? "Down since"
      : c.state === "grace"
        ? "Due since"
        : c.state === "new"
          ? "New since"
          : undefined;
  const first = sinceLabel
    ? fact(sinceLabel, c.since)
    : fact("State", undefined, c.state === "paused" ? "paused in the config" : "all slots covered");
  return `<section class="schedule">
<header><h2>${escapeHtml(model.name)}</h2><span class="badge" style="background:${color}">${escapeHtml(c.state.toUpperCase())}</span><span class="reasons">${c.reasons.map(escapeHtml).join(", ")}</span>${silence}
<span class="meta">${escapeHtml(model.cron)} · ${escapeHtml(model.timezone)} · ${escapeHtml(kind)}</span></header>
<dl class="facts">${first}${fact("Last good restore point", undefined, restore)}${fact("Last success", c.lastSuccessAt)}${fact("Last attempt", c.lastAttemptAt)}${fact("Last export", c.lastExportAt)}${fact("Expected by", c.expectedBy)}</dl>
${timelineSvg(model, page.from, page.to)}
</section>`;
}

const CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0}
.sub{color:#59636e;margin:0 0 16px}.muted{color:#8c959f}
.banner{border-radius:6px;padding:10px 14px;margin:0 0 16px;font-weight:600}
.banner.ok{background:#dafbe1;color:#1a7f37;border:1px solid #aceebb}.banner.bad{background:#ffebe9;color:#a40e26;border:1px solid #ffcecb}.banner.warn{background:#fff8c5;color:#7d4e00;border:1px solid #f2d58a}
.schedule{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:14px 16px 8px;margin:0 0 16px}
.schedule header{display:flex;flex-wrap:wrap;align-items:center;gap:10px;margin-bottom:8px}
.badge{color:#fff;font-weight:700;font-size:12px;padding:2px 8px;border-radius:12px;letter-spacing:.04em}
.reasons{color:#a40e26;font-weight:600}.silenced{background:#eaeef2;border-radius:12px;padding:1px 8px;font-size:12px}
.meta{margin-left:auto;color:#59636e;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.facts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:4px 16px;margin:0 0 8px}
.fact dt{color:#59636e;font-size:12px}.fact .small{color:#59636e;font-size:11.5px}.fact dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;overflow-wrap:anywhere}
svg{display:block}svg text{font:11px system-ui,sans-serif;fill:#59636e}
.lane{fill:#f6f8fa}.grid{stroke:#eaeef2}.axisline{stroke:#d1d9e0}.now{stroke:#1f2328;stroke-dasharray:3 3}
.slot{stroke-width:2}.slot.covered{stroke:#8c959f}.slot.due{stroke:#bf8700}.slot.late{stroke:#bf8700;stroke-width:3}.slot.missed{stroke:#cf222e;stroke-width:3}
.slot.not-monitored{stroke:#d1d9e0}.slot.unknown{stroke:#8c959f;stroke-dasharray:2 2}.unmonitored{fill:#eaeef2}
.fact code{font-size:11.5px;background:#f6f8fa;border-radius:3px;padding:0 3px}
svg text.note{fill:#8c959f;font-style:italic}
.exp{fill:#1b7c83}.exp-bad{stroke:#cf222e;stroke-width:2.5;fill:none}
.legend{display:flex;flex-wrap:wrap;gap:14px;color:#59636e;font-size:12px;margin:0 0 16px}.legend span{display:inline-flex;align-items:center;gap:5px}
.sw{display:inline-block;width:12px;height:10px;border-radius:2px}
footer{color:#8c959f;font-size:12px}
.apps td,.apps th{text-align:left;padding:2px 12px 2px 0;font-size:12.5px}.apps td.t{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
`;

/** Per app: its recovery point (the oldest component's) and each component with its newest point. */
function appsSection(apps: readonly AppRecoverability[]): string {
  const rows = apps.map((app) => {
    const parts = app.components
      .map(
        (c) =>
          `<tr><td>${escapeHtml(c.label)}</td><td class="t">${c.at ? escapeHtml(c.at) : '<span class="muted">none</span>'}</td><td style="color:${STATE_COLOR[c.state] ?? "#59636e"}">${escapeHtml(c.state)}</td></tr>`,
      )
      .join("");
    const point = app.recoveryPoint ? escapeHtml(app.recoveryPoint) : '<span class="reasons">none</span>';
    const by = app.limitedBy ? ` <span class="muted">set by ${escapeHtml(app.limitedBy)}</span>` : "";
    return `<h2>${escapeHtml(app.app)}</h2><p>Recovery point: <b>${point}</b>${by}</p><table class="apps"><tr><th>component</th><th>newest point</th><th>state</th></tr>${parts}</table>`;
  });
  return `<section class="schedule"><header><h2>Recoverability per app</h2><span class="meta">the oldest recovery point of each app</span></header>${rows.join("\n")}</section>`;
}

/** A run's restore time for people, "-" when it recorded none. */
export const restoreSeconds = (run: StatusDrillRun) =>
  run.restoreMs === undefined ? "-" : drillSeconds(run.restoreMs);

/** The last drill runs: time, outcome, duration, RTO, the durations as a row (oldest → newest), the RTO trend. */
function drillsSection(runs: readonly StatusDrillRun[]): string {
  const rows = runs
    .map((r) => {
      const why = r.failed.map((f) => `${f.backup}${f.cause ? `: ${f.cause}` : ""}`).join("; ");
      return `<tr><td class="t">${escapeHtml(r.at)}</td><td style="color:${r.ok ? "#1a7f37" : "#cf222e"}">${r.ok ? "ok" : "failed"}</td><td class="t">${escapeHtml(drillSeconds(r.durationMs))}</td><td class="t">${escapeHtml(restoreSeconds(r))}</td><td>${escapeHtml(why)}</td></tr>`;
    })
    .join("");
  const trend = [...runs]
    .reverse()
    .map((r) => escapeHtml(drillSeconds(r.durationMs)))
    .join(" → ");
  const body =
    runs.length === 0
      ? '<p class="muted">No drill run recorded yet.</p>'
      : `<table class="apps"><tr><th>run</th><th>outcome</th><th>duration</th><th>RTO</th><th>failed exports</th></tr>${rows}</table><p class="muted">Durations, oldest → newest: ${trend}</p><p>${escapeHtml(rtoLine(drillRto(runs)))}</p>`;
  return `<section class="schedule"><header><h2>Restore drills</h2><span class="meta">the last drill runs</span></header>${body}</section>`;
}

function legend(page: StatusPageModel): string {
  const items = (Object.keys(OUTCOME_COLOR) as BackupOutcome[])
    .map((o) => `<span><i class="sw" style="background:${OUTCOME_COLOR[o]}"></i>${OUTCOME_LABEL[o]}</span>`)
    .join("");
  const unknown = page.schedules.some((s) => s.slots.some((x) => x.status === "unknown"))
    ? `<span><i class="sw" style="background:repeating-linear-gradient(#8c959f 0 2px,transparent 2px 4px);width:3px"></i>Slot unknown (cluster unreachable)</span>`
    : "";
  return `<div class="legend"><span><i class="sw" style="background:#8c959f;width:3px"></i>Expected slot</span><span><i class="sw" style="background:#bf8700;width:3px"></i>Slot covered late</span><span><i class="sw" style="background:#cf222e;width:3px"></i>Missed slot</span><span><i class="sw" style="background:#eaeef2;border:1px solid #d1d9e0"></i>Not monitored (before verify first saw the schedule)</span>${unknown}${items}<span><i class="sw" style="background:#1b7c83;transform:rotate(45deg);width:9px;height:9px"></i>Export verified</span><span><b style="color:#cf222e">✕</b>Export did not verify</span></div>`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The banner: never "healthy" while a check is down or the timeline shows a missed or late slot. */
export function bannerOf(page: StatusPageModel): { tone: "ok" | "warn" | "bad"; text: string } {
  const n = page.schedules.length;
  const down = page.schedules.filter((s) => s.check.state === "down");
  const lapses = page.schedules
    .flatMap((s) => s.slots)
    .filter((x) => x.status === "missed" || x.status === "late");
  if (!page.clusterReachable)
    return { tone: "bad", text: `Cluster unreachable: ${page.clusterError ?? "no answer"}` };
  if (down.length > 0)
    return {
      tone: "bad",
      text: `${down.length} of ${plural(n, "schedule")} down: ${down.map((s) => s.name).join(", ")}`,
    };
  if (lapses.length > 0)
    return {
      tone: "warn",
      text: `No schedule down now; ${plural(lapses.length, "slot")} in the timeline ${lapses.length === 1 ? "was" : "were"} missed or covered late, and later backups followed`,
    };
  return { tone: "ok", text: `All ${plural(n, "schedule")} healthy` };
}

/** The whole page: self-contained (inline CSS and SVG only). */
export function renderStatusPage(page: StatusPageModel): string {
  const b = bannerOf(page);
  const banner = `<div class="banner ${b.tone}">${escapeHtml(b.text)}</div>`;
  const bsl = page.bslPhase ? ` · default BSL ${escapeHtml(page.bslPhase)}` : "";
  const dest = page.destination ? ` · exports to ${escapeHtml(page.destination)}` : "";
  const body =
    page.schedules.length === 0
      ? `<p class="muted">No schedules are configured.</p>`
      : page.schedules.map((s) => scheduleSection(s, page)).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>kots-backup status · ${escapeHtml(page.cluster)}</title><style>${CSS}</style></head>
<body><main>
<h1>kots-backup · ${escapeHtml(page.cluster)}</h1>
<p class="sub">Generated ${escapeHtml(page.generatedAt)} · timeline ${escapeHtml(fmt(page.from))} → ${escapeHtml(fmt(page.to))} UTC${bsl}${dest}</p>
${banner}
${page.apps && page.apps.length > 0 ? appsSection(page.apps) : ""}
${page.drills ? drillsSection(page.drills) : ""}
${legend(page)}
${body}
<footer>kots-backup status page. Times are UTC. Hover a mark for details.</footer>
</main></body></html>
`;
}

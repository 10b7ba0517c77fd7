// `kots-backup status [--html <file>]`: verify's picture for a person, read-only (no alert state is
// written and nobody is paged). A table on the terminal; with --html, a self-contained page with a
// timeline per schedule (expected slots vs backups vs exports). Both show recoverability per app: its
// KOTS snapshot, its export and its external recovery points, the oldest being the app's recovery
// point. Exit 1 when any check is down.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { EnvironmentError, ExitCode } from "@kots-backup/core";
import { DRILL_RUNS_SHOWN, renderDrillRuns } from "@kots-backup/core/drill";
import { parseDuration } from "@kots-backup/core/duration";
import { DRILL_CHECK_NAME } from "@kots-backup/core/export-layout";
import { type AppRecoverability, recoverabilityByApp } from "@kots-backup/core/recoverability";
import {
  type DrillRto,
  renderStatusPage,
  restoreSeconds,
  rtoLine,
  type StatusDrillRun,
  statusDrills,
  statusPageModel,
} from "@kots-backup/core/status-page";
import { readDrillRuns } from "@kots-backup/core/usecases/drill-runs";
import {
  evaluateFacts,
  gatherFacts,
  type VerifyReport,
  verifyExitCode,
} from "@kots-backup/core/usecases/verify";
import { externalCheckNames } from "@kots-backup/core/usecases/verify-external";
import { type CheckRecord, checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { escapeControl } from "../output.ts";
import type { CommandAction } from "../program.ts";
import { openVerifyEnvironment, renderReport } from "./verify.ts";

/** Recoverability per app, one line per app and one indented line per component. */
export function renderApps(apps: readonly AppRecoverability[]): string {
  if (apps.length === 0) return "";
  const lines = ["", "RECOVERABILITY (per app: the oldest of its recovery points)"];
  for (const app of apps) {
    const point = app.recoveryPoint ?? "none";
    lines.push(`${app.app}: recovery point ${point}${app.limitedBy ? `, set by ${app.limitedBy}` : ""}`);
    for (const c of app.components)
      lines.push(`  ${c.label.padEnd(36)} ${(c.at ?? "-").padEnd(20)}  ${c.state}`);
  }
  // Labels name backups and points the cluster and the config named.
  return lines.map(escapeControl).join("\n");
}

/** The drill runs (drill.ts's lines), then their restore times oldest → newest and the RTO trend. */
export function renderDrills(drills: readonly StatusDrillRun[], rto: DrillRto): string {
  const lines = [renderDrillRuns(drills)];
  if (rto.live)
    lines.push(
      `restore times (RTO), oldest → newest: ${[...drills].reverse().map(restoreSeconds).join(" → ")}`,
    );
  // The run's time comes from the destination: keep it on its line.
  lines.push(escapeControl(rtoLine(rto)));
  return lines.join("\n");
}

export interface StatusFlags {
  html?: string;
  window: string;
}

export const statusCommand: CommandAction<[StatusFlags]> = async ({ globals, out }, flags) => {
  const windowMs = parseDuration(flags.window, "--window");
  const env = await openVerifyEnvironment(globals, out);
  try {
    const { config } = env.loaded;
    const now = new Date();
    const facts = await gatherFacts(env.sources, now, { readAllManifests: true });
    const records = checkRecordStore(env.destination);
    const known = new Map<string, CheckRecord | undefined>();
    for (const name of [
      ...config.schedules.map((s) => s.name),
      ...externalCheckNames(config.external),
      ...(config.drill ? [DRILL_CHECK_NAME] : []),
    ])
      known.set(name, (await records.read(name))?.value);
    // The last drill runs, with `drill:` set (the runs' times, outcome, durations and restore times).
    const drills = config.drill
      ? statusDrills(await readDrillRuns(env.destination, DRILL_RUNS_SHOWN))
      : undefined;
    const { report } = evaluateFacts(facts, config.schedules, known);
    const apps = recoverabilityByApp(config.schedules, config.external, report.checks);
    if (flags.html) {
      const path = resolve(flags.html);
      const model = statusPageModel(facts, config.schedules, report.checks, {
        windowMs,
        destination: env.destination.location,
        records: known,
      });
      model.apps = apps;
      if (drills) model.drills = drills.drills;
      try {
        writeFileSync(path, renderStatusPage(model));
      } catch (error) {
        throw new EnvironmentError(
          "status-page-unwritable",
          `--html: cannot write ${path} (${(error as NodeJS.ErrnoException).code})`,
          {
            field: "--html",
            fix: "choose a path in a folder you can write to",
          },
        );
      }
      out.log("info", `status page written to ${path}`);
    }
    out.result(
      { ...report, apps, ...drills },
      (r: VerifyReport & { apps: AppRecoverability[]; drills?: StatusDrillRun[]; drillRto?: DrillRto }) =>
        `${renderReport(r)}${renderApps(r.apps)}${r.drills && r.drillRto ? renderDrills(r.drills, r.drillRto) : ""}`,
    );
    return verifyExitCode(report) === 1 ? ExitCode.problem : ExitCode.ok;
  } finally {
    await env.close();
  }
};

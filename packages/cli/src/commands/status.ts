// `kots-backup status [--html <file>]`: verify's picture for a person, read-only (no alert state is
// written and nobody is paged). A table on the terminal; with --html, a self-contained page with a
// timeline per schedule (expected slots vs backups vs exports). Exit 1 when any check is down.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { EnvironmentError, ExitCode } from "@kots-backup/core";
import { parseDuration } from "@kots-backup/core/duration";
import { renderStatusPage, statusPageModel } from "@kots-backup/core/status-page";
import { evaluateFacts, gatherFacts, verifyExitCode } from "@kots-backup/core/usecases/verify";
import { externalCheckNames } from "@kots-backup/core/usecases/verify-external";
import { type CheckRecord, checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import type { CommandAction } from "../program.ts";
import { openVerifyEnvironment, renderReport } from "./verify.ts";

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
    for (const name of [...config.schedules.map((s) => s.name), ...externalCheckNames(config.external)])
      known.set(name, (await records.read(name))?.value);
    const { report } = evaluateFacts(facts, config.schedules, known);
    if (flags.html) {
      const path = resolve(flags.html);
      const model = statusPageModel(facts, config.schedules, report.checks, {
        windowMs,
        destination: env.destination.location,
        records: known,
      });
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
    out.result(report, renderReport);
    return verifyExitCode(report) === 1 ? ExitCode.problem : ExitCode.ok;
  } finally {
    await env.close();
  }
};

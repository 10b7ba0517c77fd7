// `kots-backup silence <schedule> --for <duration> [--reason <text>]` and `unsilence <schedule>`
// (an external recovery point is named `external:<name>`, the restore drill `drill`):
// maintenance windows (docs/contract.md §2). A silenced check is still evaluated and shown, but pages nobody
// until the silence ends; if it is still down then, `Check Down` is sent at that moment.

import { destinationStore } from "@kots-backup/adapters/export/stores";
import { StateStore } from "@kots-backup/adapters/state/state-store";
import { ExitCode, InputError } from "@kots-backup/core";
import type { Config } from "@kots-backup/core/config";
import { parseDuration } from "@kots-backup/core/duration";
import { DRILL_CHECK_NAME } from "@kots-backup/core/export-layout";
import { externalCheckNames } from "@kots-backup/core/usecases/verify-external";
import { type LoadedConfig, loadConfig } from "../context.ts";
import { escapeControl } from "../output.ts";
import type { CommandAction } from "../program.ts";

export interface SilenceFlags {
  for: string;
  reason?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The check named on the command line (a schedule, `external:<name>`, or `drill` while drill: is set); exit 2 naming the known ones otherwise. */
export function checkScheduleName(config: Config, name: string): void {
  const known = [
    ...config.schedules.map((s) => s.name),
    ...externalCheckNames(config.external),
    ...(config.drill ? [DRILL_CHECK_NAME] : []),
  ];
  if (known.includes(name)) return;
  throw new InputError("unknown-schedule", `schedule: no schedule named "${name}" in the config`, {
    field: "schedule",
    fix:
      known.length > 0
        ? `use one of: ${known.join(", ")}`
        : "add the schedule to the config's schedules first",
  });
}

export const silenceCommand: CommandAction<[string, SilenceFlags]> = async (
  { globals, out },
  name,
  flags,
) => {
  const { config } = loadConfig(globals, { required: true }) as LoadedConfig;
  checkScheduleName(config, name);
  const duration = parseDuration(flags.for, "--for");
  if (!(duration > 0)) {
    throw new InputError("invalid-duration", "--for: must be longer than 0", {
      field: "--for",
      fix: "e.g. --for 2h",
    });
  }
  const now = Date.now();
  const silence = {
    schedule: name,
    until: iso(now + duration),
    ...(flags.reason ? { reason: flags.reason } : {}),
    createdAt: iso(now),
  };
  await new StateStore(await destinationStore(config.export)).setSilence(silence);
  out.result(
    silence,
    (s) => `${s.schedule} silenced until ${s.until}${s.reason ? ` (${escapeControl(s.reason)})` : ""}`,
  );
  return ExitCode.ok;
};

export const unsilenceCommand: CommandAction<[string]> = async ({ globals, out }, name) => {
  const { config } = loadConfig(globals, { required: true }) as LoadedConfig;
  checkScheduleName(config, name);
  const state = new StateStore(await destinationStore(config.export));
  const previous = await state.readSilence(name);
  if (previous) await state.clearSilence(name);
  const result = {
    schedule: name,
    silenced: false,
    ...(previous ? { previousUntil: previous.until } : {}),
  };
  out.result(result, (r) =>
    previous ? `${r.schedule} is no longer silenced` : `${r.schedule} was not silenced`,
  );
  return ExitCode.ok;
};

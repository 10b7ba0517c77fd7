// The restore drill's runs at the export destination: `state/drills/<time>.json`, one per run, written
// by whoever ran the drill (the CLI, the daemon, the onDemand Lambda) and read by the `drill` check and
// `status`. Only the newest DRILL_RUNS_KEPT are kept: older ones are deleted after each write.

import type { DrillRun } from "../drill.ts";
import { DRILLS_PREFIX, drillRunKey, drillRunTimeOfKey } from "../export-layout.ts";
import type { ObjectStore } from "../ports.ts";
import { hasOnly, readVersionedJson, writeJsonIf } from "./stored-json.ts";

/** Runs kept at the destination (a month of daily drills). */
export const DRILL_RUNS_KEPT = 30;
/** A run record larger than this is corrupt (a few hundred exports at most). */
const MAX_RUN_BYTES = 1024 * 1024;

const isString = (v: unknown) => typeof v === "string";
const isMs = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x >= 0;
const isResult = (v: unknown) =>
  hasOnly(
    v,
    { backup: isString, ok: (x) => typeof x === "boolean", durationMs: isMs },
    { cause: isString, restoreMs: isMs },
  );

function isDrillRun(value: unknown): value is DrillRun {
  return hasOnly(
    value,
    {
      at: (v) => isString(v) && !Number.isNaN(Date.parse(v as string)),
      ok: (v) => typeof v === "boolean",
      results: (v) => Array.isArray(v) && v.every(isResult),
    },
    {},
  );
}

const readOptions = {
  maxBytes: MAX_RUN_BYTES,
  fix: (key: string) => `delete ${key}: it only records one past drill run`,
};

/** Run keys at the destination, newest first. */
async function runKeys(store: ObjectStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(DRILLS_PREFIX))
    if (drillRunTimeOfKey(object.key) !== undefined) keys.push(object.key);
  // RFC 3339 UTC with milliseconds: the keys sort as their times.
  return keys.sort().reverse();
}

/**
 * Records `run`, then deletes all but the newest `keep` runs. A failed delete (credentials that may not
 * delete under state/drills/) does not undo the record: it is returned, for the caller to log.
 */
export async function recordDrillRun(
  store: ObjectStore,
  run: DrillRun,
  keep = DRILL_RUNS_KEPT,
): Promise<{ key: string; pruneError?: string }> {
  const key = drillRunKey(new Date(run.at));
  // Create only: two runs in the same millisecond are the same run.
  await writeJsonIf(store, key, run, undefined);
  try {
    for (const old of (await runKeys(store)).slice(keep)) await store.delete(old);
  } catch (error) {
    return { key, pruneError: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
  return { key };
}

/** The newest `limit` runs, newest first. A run deleted while reading is skipped. */
export async function readDrillRuns(store: ObjectStore, limit = DRILL_RUNS_KEPT): Promise<DrillRun[]> {
  const runs: DrillRun[] = [];
  for (const key of (await runKeys(store)).slice(0, limit)) {
    const read = await readVersionedJson(store, key, isDrillRun, readOptions);
    if (read) runs.push(read.value);
  }
  return runs;
}

// Which scope an export runs in, and its plan: the source listings and the destination's limits fed to
// core's plan (core/export/plan.ts), with the repository mirror state for the full scope.
import { EnvironmentError, type ObjectStore } from "@kots-backup/core";
import {
  type ExportPlan,
  type ExportScope,
  fullScopeProbe,
  fullScopeSources,
  planFullScope,
  planManifestsScope,
} from "@kots-backup/core/export/plan";
import { keyProblem } from "../store/keys.ts";
import type { ExportDeps, ExportLog, ExportScopeChoice } from "./engine.ts";
import { listAll, loadMirror, type MirrorState } from "./mirror.ts";

/** The scope asked for; `auto`: full when the BSL can be read directly and holds the backup, else manifests. */
export async function chooseScope(
  choice: ExportScopeChoice,
  deps: ExportDeps,
  name: string,
  log: ExportLog,
): Promise<ExportScope> {
  if (choice === "manifests") {
    if (!deps.downloads)
      throw new EnvironmentError(
        "downloads-unavailable",
        "the manifests scope needs the cluster's DownloadRequests",
      );
    return "manifests";
  }
  const probeKey = fullScopeProbe(name);
  let problem: string | undefined = deps.source
    ? undefined
    : (deps.sourceUnavailable ?? "no direct access to the BSL is configured (export.bsl)");
  if (deps.source) {
    try {
      const found = await deps.source.store.head(probeKey);
      if (found) return "full";
      problem = `the BSL ${deps.source.store.location} has no ${probeKey}`;
    } catch (error) {
      problem = `the BSL ${deps.source.store.location} cannot be read: ${(error as Error).message}`;
    }
  }
  if (choice === "full") {
    throw new EnvironmentError("bsl-unreachable", `scope full: ${problem}`, {
      fix: "give kots-backup read access to the BSL bucket (export.bsl: endpoint, region, credentials), or export with --scope manifests (no volume data)",
    });
  }
  if (!deps.downloads)
    throw new EnvironmentError(
      "bsl-unreachable",
      `${problem}, and DownloadRequests are not available either`,
    );
  log("warn", `exporting backup ${name} in manifests scope: volume data is NOT included`, {
    reason: problem,
  });
  return "manifests";
}

/** The plan of `scope`; for the full scope the source listings and the mirror state are read at once. */
export async function planExport(
  scope: ExportScope,
  deps: ExportDeps,
  name: string,
  log: ExportLog,
): Promise<{ plan: ExportPlan; mirror?: MirrorState }> {
  if (scope === "manifests") return { plan: planManifestsScope(name) };
  const source = deps.source!.store;
  const dest = deps.destination;
  const sources = fullScopeSources(name);
  const [backup, repositories, mirror] = await Promise.all([
    listAll(source, sources.backup),
    Promise.all(sources.repositories.map((prefix) => listAll(source, prefix))),
    loadMirror(source, dest),
  ]);
  const plan = planFullScope(name, { backup, repositories: repositories.flat() }, (sourceKey, destKey) =>
    uncopyable(sourceKey, destKey, dest),
  );
  for (const { key, reason } of plan.skipped)
    log("warn", `skipping repository object ${JSON.stringify(key)} of the BSL: ${reason}`);
  return { plan, mirror };
}

/** Why the source object `sourceKey` cannot be copied to `destKey` in `dest`, or undefined. */
function uncopyable(sourceKey: string, destKey: string, dest: ObjectStore): string | undefined {
  const source = keyProblem(sourceKey);
  if (source) return `not a valid object key (${source})`;
  const destination = dest.keyProblem ? dest.keyProblem(destKey) : keyProblem(destKey);
  if (destination) return `${dest.location} cannot store it (${destination})`;
  return undefined;
}

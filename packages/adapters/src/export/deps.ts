// The export engine's dependencies on a real cluster, as the CLI's `export` and the Lambda handlers
// build them: the destination, the default BSL (read directly when `export.bsl` allows: full scope),
// Velero's DownloadRequests (manifests scope) and kotsadm's config download.

import { InputError, type ObjectStore } from "@kots-backup/core";
import type { ExportConfig } from "@kots-backup/core/config";
import type { KubeKotsCluster } from "../kube/cluster.ts";
import { KubeDownloadSource } from "../kube/download-request.ts";
import type { ExportDeps, ExportLog, ExportProgress, ExportScopeChoice } from "./engine.ts";
import { bslSourceStore } from "./stores.ts";

export interface ClusterExportDepsInput {
  config: ExportConfig;
  cluster: KubeKotsCluster;
  destination: ObjectStore;
  scope: ExportScopeChoice;
  emit: NonNullable<ExportDeps["emit"]>;
  log: ExportLog;
  progress?: (progress: ExportProgress) => void;
}

/**
 * The full scope reads the BSL's bucket directly, which only `export.bsl` allows: asking for it
 * without that is a config problem (exit 2), said before anything is read, written or emitted.
 */
export function checkScope(config: ExportConfig, scope: ExportScopeChoice): void {
  if (scope !== "full" || config.bsl) return;
  throw new InputError(
    "invalid-config",
    "export.bsl: the full scope reads the BSL's bucket directly, and export.bsl is not set",
    {
      field: "export.bsl",
      fix: "add export.bsl (the BSL bucket's region; endpoint and credentials when not the destination's), or export with --scope manifests (export.scope: manifests; no volume data)",
    },
  );
}

export async function clusterExportDeps(input: ClusterExportDepsInput): Promise<ExportDeps> {
  const { config, cluster, destination, scope, log } = input;
  checkScope(config, scope);
  const velero = await cluster.veleroNamespace();
  const bslInfo = await cluster.defaultBsl().catch((error: Error) => {
    log("warn", "could not read the default BackupStorageLocation", { reason: error.message });
    return undefined;
  });
  const source =
    scope === "manifests" || !bslInfo
      ? { serverSide: false, reason: "the BSL could not be read" }
      : await bslSourceStore(config, bslInfo);
  const location = bslInfo?.bucket
    ? `s3://${bslInfo.bucket}${bslInfo.prefix ? `/${bslInfo.prefix.replace(/^\/+|\/+$/g, "")}` : ""}`
    : undefined;
  return {
    cluster,
    destination,
    veleroNamespace: velero.namespace,
    bsl: { name: bslInfo?.name ?? "default", ...(location ? { location } : {}) },
    ...(source.store ? { source: { store: source.store } } : {}),
    ...(source.reason ? { sourceUnavailable: source.reason } : {}),
    serverSideCopy: source.serverSide,
    downloads: new KubeDownloadSource(cluster.api, velero.namespace),
    downloadConfig: async (app) => (await cluster.kotsadm()).download(app),
    emit: input.emit,
    log,
    ...(input.progress ? { progress: input.progress } : {}),
  };
}

// Finding kotsadm and Velero the way KOTS does (kots-velero.md §1.1, §2.2), config first:
// - kotsadm namespace: config, else the kubeconfig context's namespace, else `default`;
// - kotsadm pod: the first Running pod labelled `app=kotsadm` there (FindKotsadm);
// - Velero namespace: config, else ConfigMap `kotsadm-velero-namespace` key `veleroNamespace` in the
//   kotsadm namespace, else the namespace of the Deployment named `velero` (cluster-wide list: the
//   only cluster-scoped permission, needed only in this last case);
// - the BackupStorageLocation named `default` there, and its phase.
// Each failure says what was looked for, where, and the fix.
import { EnvironmentError } from "@kots-backup/core";
import { type KubeApi, type KubePod, VELERO_BSLS } from "./api.ts";
import { KubeApiError, RBAC_FIX } from "./errors.ts";

export const VELERO_NAMESPACE_CONFIGMAP = "kotsadm-velero-namespace";
export const DEFAULT_BSL = "default";

export interface BackupStorageLocationInfo {
  name: string;
  namespace: string;
  /** `Available`, `Unavailable`, or undefined when Velero has not validated it yet. */
  phase?: string;
  provider?: string;
  bucket?: string;
  prefix?: string;
}

export type VeleroNamespaceSource = "config" | "configmap" | "deployment";

/** The Running `app=kotsadm` pod's name. */
export async function findKotsadmPod(api: KubeApi, namespace: string): Promise<string> {
  const pods = await api.listPods(namespace, "app=kotsadm");
  const running = pods.find((p: KubePod) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
  if (running?.metadata?.name) return running.metadata.name;
  const seen = pods.map((p) => `${p.metadata?.name} (${p.status?.phase ?? "unknown"})`).join(", ");
  throw new EnvironmentError(
    "kotsadm-not-running",
    `no Running pod labelled app=kotsadm in namespace ${namespace}${seen ? `: found ${seen}` : ""}`,
    {
      fix: seen
        ? `wait for kotsadm to start (kubectl get pods -n ${namespace} -l app=kotsadm)`
        : `set the kotsadm namespace (cluster.kotsadmNamespace, or the kubeconfig context's namespace); ${namespace} has no kotsadm`,
    },
  );
}

/** Velero's namespace, and how it was found. */
export async function findVeleroNamespace(
  api: KubeApi,
  kotsadmNamespace: string,
  configured?: string,
): Promise<{ namespace: string; source: VeleroNamespaceSource }> {
  if (configured) return { namespace: configured, source: "config" };
  const hint = await api.getConfigMap(kotsadmNamespace, VELERO_NAMESPACE_CONFIGMAP);
  const fromHint = hint?.data?.["veleroNamespace"];
  if (fromHint) return { namespace: fromHint, source: "configmap" };
  let deployments: Awaited<ReturnType<KubeApi["listDeploymentsNamed"]>>;
  try {
    deployments = await api.listDeploymentsNamed("velero");
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 403) {
      throw new EnvironmentError(
        "velero-not-found",
        `Velero not found: no cluster.veleroNamespace configured, no ConfigMap ${VELERO_NAMESPACE_CONFIGMAP} in namespace ${kotsadmNamespace}, and ${error.message}`,
        { cause: error, fix: `set cluster.veleroNamespace (kots-backup.yaml), or ${RBAC_FIX}` },
      );
    }
    throw error;
  }
  const found = deployments[0]?.metadata?.namespace;
  if (found) return { namespace: found, source: "deployment" };
  throw new EnvironmentError(
    "velero-not-found",
    `Velero not found: no cluster.veleroNamespace configured, no ConfigMap ${VELERO_NAMESPACE_CONFIGMAP} in namespace ${kotsadmNamespace}, and no Deployment named velero in any namespace`,
    { fix: "install Velero (kubectl kots velero …, or velero install), or set cluster.veleroNamespace" },
  );
}

interface BslObject {
  metadata?: { name?: string; namespace?: string };
  spec?: { provider?: string; objectStorage?: { bucket?: string; prefix?: string } };
  status?: { phase?: string };
}

/** The `default` BackupStorageLocation in Velero's namespace. */
export async function findDefaultBsl(
  api: KubeApi,
  veleroNamespace: string,
): Promise<BackupStorageLocationInfo> {
  const bsl = await api.getCustom<BslObject & { apiVersion?: string; kind?: string }>(
    VELERO_BSLS,
    veleroNamespace,
    DEFAULT_BSL,
  );
  if (!bsl) {
    throw new EnvironmentError(
      "bsl-missing",
      `no BackupStorageLocation named ${DEFAULT_BSL} in namespace ${veleroNamespace} (KOTS backs up only to the default location)`,
      { fix: "configure snapshot storage in the KOTS admin console (or kubectl kots velero configure-…)" },
    );
  }
  const info: BackupStorageLocationInfo = { name: DEFAULT_BSL, namespace: veleroNamespace };
  if (bsl.status?.phase) info.phase = bsl.status.phase;
  if (bsl.spec?.provider) info.provider = bsl.spec.provider;
  if (bsl.spec?.objectStorage?.bucket) info.bucket = bsl.spec.objectStorage.bucket;
  if (bsl.spec?.objectStorage?.prefix) info.prefix = bsl.spec.objectStorage.prefix;
  return info;
}

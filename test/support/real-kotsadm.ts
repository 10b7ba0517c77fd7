// kotsadm in a real cluster: the sandbox's kotsadm (the project's simulation of kots' API) reading its
// auth string from and creating Backups in a real kube-apiserver, where real Velero executes them.
// kots-backup reaches it only as it reaches a real kotsadm: a port-forward through the apiserver to
// port 3000 of the `app=kotsadm` pod. The pod is bound to a node whose kubelet is the sandbox's minimal
// kubelet (port-forward only); no container runs, so the pod's status is written as Running.
import { randomBytes } from "node:crypto";
import { Faults } from "@kots-backup/sandbox";
import { startKubelet } from "@kots-backup/sandbox/k8s/kubelet";
import type { KotsApp } from "@kots-backup/sandbox/kotsadm/backup-specs";
import {
  AUTHSTRING_SECRET,
  KOTSADM_PORT,
  Kotsadm,
  type KotsadmCluster,
} from "@kots-backup/sandbox/kotsadm/kotsadm";
import { CoreV1Api, CustomObjectsApi, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { apply, type Kube } from "./real-cluster.ts";

const NODE = "kb-virtual-node";
const KOTSADM_LABELS = { app: "kotsadm", "kots.io/kotsadm": "true", "kots.io/backup": "velero" };

export interface RealKotsadm {
  kotsadm: Kotsadm;
  pod: string;
  stop(): Promise<void>;
}

type KubeObject = Parameters<KotsadmCluster["createBackup"]>[0];
const BACKUPS = { group: "velero.io", version: "v1", plural: "backups" };

/** kotsadm's view of a real cluster (the same calls kotsadm makes, through client-node). */
function apiCluster(kube: Kube, namespace: string, veleroNamespace: string): KotsadmCluster {
  const core = kube.kubeconfig.makeApiClient(CoreV1Api);
  const custom = kube.kubeconfig.makeApiClient(CustomObjectsApi);
  const notFound = (error: unknown) => (error as { code?: number }).code === 404;
  return {
    async authString() {
      try {
        const secret = await core.readNamespacedSecret({ name: AUTHSTRING_SECRET, namespace });
        const encoded = secret.data?.[AUTHSTRING_SECRET];
        return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async defaultBslExists() {
      try {
        await kube.objects.read({
          apiVersion: "velero.io/v1",
          kind: "BackupStorageLocation",
          metadata: { name: "default", namespace: veleroNamespace },
        });
        return true;
      } catch (error) {
        if (notFound(error)) return false;
        throw error;
      }
    },
    // CustomObjectsApi answers plain JSON (timestamps as strings), as kotsadm's client reads them.
    async createBackup(backup) {
      // The spec builder leaves name "" beside generateName (as kotsadm's Go struct does); the apiserver
      // wants it absent.
      const { name: _empty, ...metadata } = backup.metadata;
      return (await custom.createNamespacedCustomObject({
        ...BACKUPS,
        namespace: veleroNamespace,
        body: { ...backup, metadata },
      })) as KubeObject;
    },
    async listBackups() {
      const list = (await custom.listNamespacedCustomObject({ ...BACKUPS, namespace: veleroNamespace })) as {
        items: KubeObject[];
      };
      return list.items;
    },
  };
}

/**
 * Starts kotsadm for `apps` in `namespace` of a real cluster: Secret kotsadm-authstring, a Node served by
 * the minimal kubelet and a Running `app=kotsadm` pod on it.
 */
export async function startRealKotsadm(
  kube: Kube,
  options: { namespace: string; veleroNamespace: string; apps: KotsApp[]; image?: string },
): Promise<RealKotsadm> {
  const kotsadm = new Kotsadm({
    namespace: options.namespace,
    veleroNamespace: options.veleroNamespace,
    apps: options.apps,
    image: options.image ?? "kotsadm/kotsadm:v1.124.0",
    clock: { now: () => new Date(), iso: () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z") },
    cluster: apiCluster(kube, options.namespace, options.veleroNamespace),
    faults: new Faults(),
  });
  const pod = `kotsadm-${randomBytes(4).toString("hex")}`;
  const kubelet = await startKubelet(kube.tls, (namespace, name, port) =>
    namespace === options.namespace && name === pod && port === KOTSADM_PORT
      ? kotsadm.connect()
      : {
          error: `failed to connect to localhost:${port} inside namespace "${namespace}": connection refused`,
        },
  );
  const core = kube.kubeconfig.makeApiClient(CoreV1Api);
  await apply(kube, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: options.namespace } }]);
  await core.createNamespacedSecret({
    namespace: options.namespace,
    body: {
      metadata: {
        name: AUTHSTRING_SECRET,
        labels: { "kots.io/kotsadm": "true", "kots.io/backup": "velero" },
      },
      type: "Opaque",
      stringData: { [AUTHSTRING_SECRET]: `Kots ${randomBytes(16).toString("hex")}` },
    },
  });
  const node: V1Node = { metadata: { name: NODE }, spec: {} };
  await core.createNode({ body: node });
  await core.replaceNodeStatus({
    name: NODE,
    body: {
      ...(await core.readNode({ name: NODE })),
      status: {
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } },
        conditions: [
          { type: "Ready", status: "True", reason: "KubeletReady", lastHeartbeatTime: new Date() },
        ],
      },
    },
  });
  const body: V1Pod = {
    metadata: { name: pod, labels: KOTSADM_LABELS },
    spec: {
      nodeName: NODE,
      containers: [
        {
          name: "kotsadm",
          image: options.image ?? "kotsadm/kotsadm:v1.124.0",
          ports: [{ name: "http", containerPort: KOTSADM_PORT }],
        },
      ],
    },
  };
  await core.createNamespacedPod({ namespace: options.namespace, body });
  await core.replaceNamespacedPodStatus({
    name: pod,
    namespace: options.namespace,
    body: {
      ...(await core.readNamespacedPod({ name: pod, namespace: options.namespace })),
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        podIP: "127.0.0.1",
      },
    },
  });
  return {
    kotsadm,
    pod,
    async stop() {
      kotsadm.close();
      await kubelet.close();
    },
  };
}

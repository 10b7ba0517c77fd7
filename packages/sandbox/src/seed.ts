// The cluster a KOTS install leaves behind: namespaces, the kotsadm Deployment/Pod and auth-string
// Secret, the Velero Deployment/Pod, the app's own objects, and optionally the Velero-namespace hint.
import { randomBytes } from "node:crypto";
import type { ClusterState } from "./k8s/cluster-state.ts";
import type { KubeObject } from "./k8s/objects.ts";
import type { ResourceRegistry } from "./k8s/resources.ts";
import type { KotsApp } from "./kotsadm/backup-specs.ts";
import { AUTHSTRING_SECRET } from "./kotsadm/kotsadm.ts";

export interface SeedOptions {
  kotsadmNamespace: string;
  veleroNamespace: string;
  apps: KotsApp[];
  kotsadmImage: string;
  /** Create ConfigMap kotsadm-velero-namespace (written by `kots velero ensure-permissions`). */
  veleroNamespaceConfigMap: boolean;
}

const KOTSADM_LABELS = { "kots.io/kotsadm": "true", "kots.io/backup": "velero" };

export function seedCluster(state: ClusterState, registry: ResourceRegistry, options: SeedOptions): void {
  const create = (group: string, plural: string, object: KubeObject, namespace?: string) =>
    state.create(registry.byResource(group, plural), object, namespace);
  const namespaces = new Set([
    "kube-system",
    "default",
    options.kotsadmNamespace,
    options.veleroNamespace,
    ...options.apps.map((a) => a.namespace),
  ]);
  for (const name of namespaces) create("", "namespaces", { metadata: { name } });

  const ns = options.kotsadmNamespace;
  create(
    "",
    "secrets",
    {
      metadata: { name: AUTHSTRING_SECRET, labels: KOTSADM_LABELS },
      type: "Opaque",
      data: { [AUTHSTRING_SECRET]: Buffer.from(`Kots ${randomAlnum(32)}`).toString("base64") },
    },
    ns,
  );
  create(
    "apps",
    "deployments",
    deployment("kotsadm", { app: "kotsadm", ...KOTSADM_LABELS }, options.kotsadmImage),
    ns,
  );
  create(
    "",
    "pods",
    {
      metadata: {
        name: `kotsadm-${randomAlnum(9).toLowerCase()}-${randomAlnum(5).toLowerCase()}`,
        labels: { app: "kotsadm", ...KOTSADM_LABELS },
        annotations: {
          "backup.velero.io/backup-volumes": "backup",
          "pre.hook.backup.velero.io/command": '["/scripts/backup.sh"]',
          "pre.hook.backup.velero.io/timeout": "10m",
        },
      },
      spec: {
        containers: [
          { name: "kotsadm", image: options.kotsadmImage, ports: [{ name: "http", containerPort: 3000 }] },
        ],
      },
      status: runningStatus(),
    },
    ns,
  );
  if (options.veleroNamespaceConfigMap) setVeleroNamespaceHint(state, registry, ns, options.veleroNamespace);

  const velero = options.veleroNamespace;
  create(
    "apps",
    "deployments",
    deployment("velero", { component: "velero", deploy: "velero" }, "velero/velero:v1.18.1"),
    velero,
  );
  create(
    "",
    "pods",
    {
      metadata: {
        name: `velero-${randomAlnum(9).toLowerCase()}-${randomAlnum(5).toLowerCase()}`,
        labels: { component: "velero", deploy: "velero" },
      },
      spec: { containers: [{ name: "velero", image: "velero/velero:v1.18.1" }] },
      status: runningStatus(),
    },
    velero,
  );

  for (const app of options.apps) {
    const labels = { app: app.slug, "kots.io/backup": "velero", "kots.io/app-slug": app.slug };
    create(
      "apps",
      "deployments",
      deployment(app.slug, labels, `registry.example.com/${app.slug}:${app.versionLabel}`),
      app.namespace,
    );
    create(
      "",
      "configmaps",
      { metadata: { name: `${app.slug}-config`, labels }, data: { hostname: `${app.slug}.example.com` } },
      app.namespace,
    );
  }
}

export function setVeleroNamespaceHint(
  state: ClusterState,
  registry: ResourceRegistry,
  kotsadmNamespace: string,
  veleroNamespace: string | undefined,
): void {
  const type = registry.byResource("", "configmaps");
  const existing = state.find(type, kotsadmNamespace, "kotsadm-velero-namespace");
  if (existing) state.delete(type, kotsadmNamespace, "kotsadm-velero-namespace");
  if (veleroNamespace !== undefined) {
    state.create(
      type,
      { metadata: { name: "kotsadm-velero-namespace", labels: KOTSADM_LABELS }, data: { veleroNamespace } },
      kotsadmNamespace,
    );
  }
}

function deployment(name: string, labels: Record<string, string>, image: string): KubeObject {
  return {
    metadata: { name, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name, image }] } },
    },
    status: { replicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
}

function runningStatus() {
  return {
    phase: "Running",
    conditions: [{ type: "Ready", status: "True" }],
    podIP: "10.42.0.12",
  };
}

function randomAlnum(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

// The Velero Backup objects kotsadm creates (kots-velero.md §1.3 legacy instance, §1.4 app), built
// as plain data so kotsadm's routes and the scenario preloader produce identical objects.
import type { KubeObject } from "../k8s/objects.ts";

export interface KotsApp {
  id: string;
  slug: string;
  name: string;
  /** Parent sequence of the deployed version. */
  sequence: number;
  versionLabel: string;
  /** Where the app is deployed (kotsadm's namespace unless KOTSADM_TARGET_NAMESPACE). */
  namespace: string;
}

export interface BackupContext {
  kotsadmNamespace: string;
  veleroNamespace: string;
  kotsadmImage: string;
  apps: KotsApp[];
  trigger: "manual" | "schedule";
  /** RFC 3339 UTC, no fractional seconds. */
  requestedAt: string;
  isAirgap?: boolean;
  /** Default 720h, written the way Go's metav1.Duration marshals it. */
  ttl?: string;
}

export function instanceBackup(context: BackupContext): KubeObject {
  const namespaces = [context.kotsadmNamespace, ...context.apps.map((a) => a.namespace)];
  return {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: {
      name: "",
      generateName: "instance-",
      namespace: context.veleroNamespace,
      annotations: {
        "kots.io/instance": "true",
        "kots.io/snapshot-trigger": context.trigger,
        "kots.io/snapshot-requested": context.requestedAt,
        "kots.io/kotsadm-image": context.kotsadmImage,
        "kots.io/kotsadm-deploy-namespace": context.kotsadmNamespace,
        "kots.io/apps-sequences": JSON.stringify(
          Object.fromEntries(context.apps.map((a) => [a.slug, a.sequence])),
        ),
        "kots.io/apps-versions": JSON.stringify(
          Object.fromEntries(context.apps.map((a) => [a.slug, a.versionLabel])),
        ),
        "kots.io/is-airgap": String(context.isAirgap ?? false),
      },
    },
    spec: {
      includedNamespaces: [...new Set(namespaces)],
      excludedNamespaces: [],
      orLabelSelectors: [{ matchLabels: { "kots.io/backup": "velero" } }],
      includeClusterResources: true,
      storageLocation: "default",
      ttl: context.ttl ?? "720h0m0s",
      orderedResources: {},
      hooks: { resources: [] },
    },
  };
}

export function appBackup(context: BackupContext, app: KotsApp): KubeObject {
  return {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: {
      name: "",
      generateName: `${app.slug}-`,
      namespace: context.veleroNamespace,
      annotations: {
        "kots.io/snapshot-trigger": context.trigger,
        "kots.io/app-id": app.id,
        "kots.io/app-sequence": String(app.sequence),
        "kots.io/snapshot-requested": context.requestedAt,
      },
    },
    spec: {
      includedNamespaces: [app.namespace],
      labelSelector: { matchLabels: { "kots.io/app-slug": app.slug } },
      includeClusterResources: true,
      storageLocation: "default",
      ttl: context.ttl ?? "720h0m0s",
    },
  };
}

// The Velero Backup objects kotsadm creates (kots-velero.md §1.3 legacy instance, §1.4 app), built
// as plain data so kotsadm's routes and the scenario preloader produce identical objects. An app may ship
// its own `velero.io/v1 Backup` (the vendor's); kotsadm merges it as kots' mergeAppBackupSpec does.
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
  /** The app's own Backup resource (template-rendered), if it ships one. */
  backup?: VendorBackup;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** The parts of a vendor's `velero.io/v1 Backup` kotsadm reads. */
export interface VendorBackup {
  annotations?: Record<string, string>;
  spec?: {
    includedNamespaces?: string[];
    excludedNamespaces?: string[];
    includedResources?: string[];
    excludedResources?: string[];
    labelSelector?: LabelSelector;
    orLabelSelectors?: LabelSelector[];
    includeClusterResources?: boolean;
    orderedResources?: Record<string, string>;
    hooks?: { resources?: unknown[] };
    ttl?: string;
  };
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
  const vendors = context.apps.map((a) => a.backup ?? {});
  const namespaces = [
    context.kotsadmNamespace,
    ...context.apps.map((a) => a.namespace),
    ...vendors.flatMap((v) => v.spec?.includedNamespaces ?? []),
  ];
  return {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: {
      name: "",
      generateName: "instance-",
      namespace: context.veleroNamespace,
      // The vendors' annotations first, so kotsadm's own win.
      annotations: {
        ...Object.assign({}, ...vendors.map((v) => v.annotations ?? {})),
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
    // The vendors' labelSelector, includedResources and excludedResources are ignored, as kots does:
    // an instance backup selects by kots.io/backup=velero.
    spec: {
      includedNamespaces: namespaces.includes("*") ? ["*"] : [...new Set(namespaces)],
      excludedNamespaces: vendors.flatMap((v) => v.spec?.excludedNamespaces ?? []),
      orLabelSelectors: [
        { matchLabels: { "kots.io/backup": "velero" } },
        ...vendors.flatMap((v) => v.spec?.orLabelSelectors ?? []),
      ],
      includeClusterResources: true,
      storageLocation: "default",
      ttl: context.ttl ?? "720h0m0s",
      orderedResources: Object.assign({}, ...vendors.map((v) => v.spec?.orderedResources ?? {})),
      hooks: { resources: vendors.flatMap((v) => v.spec?.hooks?.resources ?? []) },
    },
  };
}

export function appBackup(context: BackupContext, app: KotsApp): KubeObject {
  const vendor = app.backup?.spec ?? {};
  const vendorSelector = vendor.labelSelector ?? {};
  return {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: {
      name: "",
      generateName: `${app.slug}-`,
      namespace: context.veleroNamespace,
      annotations: {
        ...app.backup?.annotations,
        "kots.io/snapshot-trigger": context.trigger,
        "kots.io/app-id": app.id,
        "kots.io/app-sequence": String(app.sequence),
        "kots.io/snapshot-requested": context.requestedAt,
      },
    },
    // The vendor's spec, kept but for what kotsadm sets: namespaces, the app-slug selector (kots' keys
    // win, the vendor's expressions appended), the location and the TTL.
    spec: {
      ...vendor,
      includedNamespaces: [...new Set([app.namespace, ...(vendor.includedNamespaces ?? [])])],
      labelSelector: {
        matchLabels: { ...vendorSelector.matchLabels, "kots.io/app-slug": app.slug },
        ...(vendorSelector.matchExpressions ? { matchExpressions: vendorSelector.matchExpressions } : {}),
      },
      includeClusterResources: vendor.includeClusterResources ?? true,
      storageLocation: "default",
      ttl: context.ttl ?? "720h0m0s",
    },
  };
}

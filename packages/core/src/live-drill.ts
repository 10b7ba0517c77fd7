// The live restore drill's pure parts (adapters/src/drill/live.ts makes the calls): the scratch
// namespaces a backup's namespaces are restored into, the Restore it creates, which of the backup's items
// that Restore must bring back, and how the DR cluster's answers are read. Everything the DR cluster
// sends (Backup and Restore statuses, discovery) is untrusted: parsed with zod, escaped when shown.
import { z } from "zod";
import { escapeControl, shortInput } from "./text.ts";

/** Labels on the Restore a drill creates: `kubectl get restores -n velero -l kots-backup.io/drill`. */
export const DRILL_RESTORE_LABELS = {
  "app.kubernetes.io/managed-by": "kots-backup",
  "kots-backup.io/drill": "true",
} as const;

/** Velero phases a Restore ends in; only Completed passes the drill. */
export const RESTORE_TERMINAL_PHASES: ReadonlySet<string> = new Set([
  "Completed",
  "PartiallyFailed",
  "Failed",
  "FailedValidation",
]);

/** Backup phases a restore can start from (as the offline drill's `backup` check). */
export const SYNCED_BACKUP_PHASES: ReadonlySet<string> = new Set(["Completed", "PartiallyFailed"]);

/** Longest Kubernetes namespace (a DNS-1123 label). */
const MAX_NAMESPACE = 63;

/**
 * Each of the backup's namespaces → a fresh scratch namespace: `<prefix><suffix>-<index>-<source>`, cut
 * to 63 characters. The index keeps them distinct when long source names are cut alike; the source name
 * tells people what they are looking at.
 */
export function scratchNamespaces(
  prefix: string,
  suffix: string,
  namespaces: readonly string[],
): Record<string, string> {
  return Object.fromEntries(
    [...namespaces].sort().map((source, index) => {
      const name = `${prefix}${suffix}-${index}-${source}`.slice(0, MAX_NAMESPACE).replace(/-+$/, "");
      return [source, name];
    }),
  );
}

/** The drill's Restore name: `<backup>-drill-<suffix>`, the backup cut so that it stays a label value. */
export function drillRestoreName(backup: string, suffix: string): string {
  const tail = `-drill-${suffix}`;
  return `${backup.slice(0, MAX_NAMESPACE - tail.length).replace(/[-.]+$/, "")}${tail}`;
}

export interface DrillRestoreSpec {
  name: string;
  veleroNamespace: string;
  backup: string;
  /** Source namespace → scratch namespace. */
  namespaceMapping: Record<string, string>;
}

/** The velero.io/v1 Restore a live drill creates (valid against Velero v1.18's CRD schema). */
export function drillRestore(spec: DrillRestoreSpec) {
  return {
    apiVersion: "velero.io/v1",
    kind: "Restore",
    metadata: { name: spec.name, namespace: spec.veleroNamespace, labels: { ...DRILL_RESTORE_LABELS } },
    spec: {
      backupName: spec.backup,
      // Only the mapped namespaces: nothing is restored under its original name in the DR cluster.
      includedNamespaces: Object.keys(spec.namespaceMapping),
      namespaceMapping: spec.namespaceMapping,
      // A drill must not touch the DR cluster's cluster-scoped objects (CRDs, ClusterRoles, PVs,
      // StorageClasses…): it restores namespaced items only, into namespaces it then deletes.
      includeClusterResources: false,
    },
  };
}

/** One namespaced item of the backup's resource list. */
export interface ListedItem {
  /** `apps/v1`, `v1`. */
  apiVersion: string;
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}

const resourceList = z.record(z.string().max(512), z.array(z.string().max(1024)).max(1_000_000));

/**
 * Kinds a default Velero restore leaves out or the DR cluster's controllers may remove again, so that
 * their absence proves nothing: Velero's non-restorable namespaced resources (events, its own Backups,
 * Restores and repositories), Pods and Jobs (Velero skips completed ones; the Deployments, StatefulSets
 * and CronJobs that own them are compared) and EndpointSlices (rewritten by the endpoint controllers).
 */
const NOT_COMPARED = new Set([
  "/Event",
  "events.k8s.io/Event",
  "velero.io/Backup",
  "velero.io/Restore",
  "velero.io/ResticRepository",
  "velero.io/BackupRepository",
  "/Pod",
  "batch/Job",
  "discovery.k8s.io/EndpointSlice",
]);

/**
 * The backup's namespaces (those holding a namespaced item), and its namespaced items that a default restore brings back (see
 * NOT_COMPARED; also a ServiceAccount's legacy `<sa>-token-*` Secret, which Velero's secret action
 * skips). Throws when the resource list is not Velero's `{"<apiVersion>/<Kind>": ["<ns>/<name>", …]}`.
 */
export function restorableItems(list: unknown): { namespaces: string[]; items: ListedItem[] } {
  const parsed = resourceList.safeParse(list);
  if (!parsed.success) throw new Error("the resource list is not Velero's {type: [namespace/name, …]}");
  const namespaces = new Set<string>();
  const items: ListedItem[] = [];
  for (const [type, entries] of Object.entries(parsed.data)) {
    const slash = type.lastIndexOf("/");
    const apiVersion = type.slice(0, slash);
    const kind = type.slice(slash + 1);
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) : ["", apiVersion];
    if (slash <= 0 || !kind || !version) throw new Error(`the resource list names type ${shortInput(type)}`);
    for (const entry of entries) {
      const at = entry.indexOf("/");
      // Cluster-scoped (Namespace objects included): never restored by a drill. Velero creates a
      // scratch namespace when it restores the first item into it.
      if (at < 0) continue;
      const item = {
        apiVersion,
        group: group ?? "",
        version: version as string,
        kind,
        namespace: entry.slice(0, at),
        name: entry.slice(at + 1),
      };
      namespaces.add(item.namespace);
      if (!NOT_COMPARED.has(`${item.group}/${kind}`)) items.push(item);
    }
  }
  const accounts = new Set(
    items.filter((i) => i.group === "" && i.kind === "ServiceAccount").map((i) => `${i.namespace}/${i.name}`),
  );
  const legacyToken = (i: ListedItem) =>
    i.group === "" &&
    i.kind === "Secret" &&
    [...accounts].some((a) => `${i.namespace}/${i.name}`.startsWith(`${a}-token-`));
  for (const name of namespaces) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
      throw new Error(`the resource list names namespace ${shortInput(name)}`);
  }
  return { namespaces: [...namespaces].sort(), items: items.filter((i) => !legacyToken(i)) };
}

const count = z.number().int().nonnegative().optional().catch(undefined);
const reason = z.string().max(4096).optional().catch(undefined);

/** A Backup or Restore as the drill reads it from the DR cluster. */
export const VeleroObjectView = z.object({
  metadata: z.object({ name: z.string().max(253) }),
  status: z
    .object({
      phase: z.string().max(64).optional(),
      errors: count,
      warnings: count,
      failureReason: reason,
      validationErrors: z.array(z.string().max(4096)).max(100).optional().catch(undefined),
    })
    .optional(),
});
export type VeleroObjectView = z.output<typeof VeleroObjectView>;

/** A Backup or Restore the DR cluster answered with, or an error saying it is not one. */
export function parseVeleroObject(value: unknown, what: string): VeleroObjectView {
  const parsed = VeleroObjectView.safeParse(value);
  if (!parsed.success)
    throw new Error(`the DR cluster answered ${what} with an object kots-backup cannot read`);
  return parsed.data;
}

/** Why a terminal Restore did not pass (undefined when it Completed). Cluster text escaped and cut. */
export function restoreFailure(restore: VeleroObjectView): string | undefined {
  const status = restore.status ?? {};
  if (status.phase === "Completed") return undefined;
  const details = [
    `errors ${status.errors ?? 0}`,
    `warnings ${status.warnings ?? 0}`,
    ...(status.failureReason ? [`failureReason ${shortInput(status.failureReason, 200)}`] : []),
    ...(status.validationErrors?.length
      ? [`validation: ${shortInput(status.validationErrors.join("; "), 200)}`]
      : []),
  ];
  return `Restore ${escapeControl(restore.metadata.name)} ended ${shortInput(status.phase ?? "without a phase")} (${details.join(", ")}); see \`velero restore describe ${escapeControl(restore.metadata.name)} --details\` in the DR cluster`;
}

/** One API group-version's resources, from discovery (`/api/v1`, `/apis/<group>/<version>`). */
export const ApiResourceList = z.object({
  resources: z
    .array(
      z.object({
        name: z.string().max(253),
        kind: z.string().max(253),
        namespaced: z.boolean().optional().catch(undefined),
      }),
    )
    .max(10_000),
});

/** The plural resource of `kind` (not a subresource), from a group-version's discovery document. */
export function pluralOf(discovery: unknown, kind: string): string | undefined {
  const parsed = ApiResourceList.safeParse(discovery);
  if (!parsed.success) return undefined;
  return parsed.data.resources.find((r) => r.kind === kind && !r.name.includes("/"))?.name;
}

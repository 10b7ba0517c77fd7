// The live restore drill (`drill.cluster`): after an export passes the offline drill, restore it for real
// in a DR cluster whose Velero reads the export as a ReadOnly BackupStorageLocation, and time it (RTO).
//   sync      wait until the DR Velero lists Backup <name> in a restorable phase (its BSL sync is a timer:
//             one minute in Velero v1.18);
//   restore   create a Restore mapping each of the backup's namespaces to a fresh scratch namespace
//             (`<prefix><suffix>-<i>-<ns>`), namespaced items only (includeClusterResources: false: the
//             DR cluster's cluster-scoped objects are never touched), and follow it to a terminal phase;
//             restoreMs runs from the create call to seeing Completed (polled each second);
//   compare   every namespaced item of the backup's resource list that a default restore brings back
//             (core/live-drill.ts restorableItems) exists in its scratch namespace (one GET each);
//   cleanup   the scratch namespaces are ALWAYS deleted (their deletion is requested; the cluster's
//             namespace controller then removes what is in them). The Restore object is kept: it is
//             Velero's record of the drill (`velero restore describe/logs`), deleting it would make
//             Velero's finalizer delete the restore's logs from the export bucket, and keeping it needs
//             no delete permission. Restores carry the `kots-backup.io/drill` label for pruning.
// The permissions this needs in the DR cluster are deploy/dr-rbac.yaml, each proven necessary by
// test/restore/live-drill.test.ts. A refused call names the missing permission in the cause.
import { randomBytes } from "node:crypto";
import { InputError } from "@kots-backup/core";
import type { DrillClusterConfig } from "@kots-backup/core/config";
import { formatDuration } from "@kots-backup/core/duration";
import {
  drillRestore,
  drillRestoreName,
  type ListedItem,
  parseVeleroObject,
  pluralOf,
  RESTORE_TERMINAL_PHASES,
  restorableItems,
  restoreFailure,
  SYNCED_BACKUP_PHASES,
  scratchNamespaces,
  type VeleroObjectView,
} from "@kots-backup/core/live-drill";
import { escapeControl, shortInput } from "@kots-backup/core/text";
import { type CustomResource, KubeApi, VELERO_BACKUPS } from "../kube/api.ts";
import { KubeApiError } from "../kube/errors.ts";
import { sleep as defaultSleep } from "../retry.ts";
import { connectCluster } from "../runtime/index.ts";

export const VELERO_RESTORES: CustomResource = { group: "velero.io", version: "v1", plural: "restores" };

/** Where and how a live drill runs: the DR cluster's API and the `drill.cluster` settings. */
export interface LiveDrillTarget {
  api: KubeApi;
  veleroNamespace: string;
  namespacePrefix: string;
  syncTimeoutMs: number;
  restoreTimeoutMs: number;
  /** Between two reads of the Backup or the Restore (default 1 s). */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** One backup's live drill, as `drill --json` shows it. */
export interface LiveDrillResult {
  ok: boolean;
  /** The Restore created in the DR cluster (kept there as Velero's record of the drill). */
  restore?: string;
  /** Each of the backup's namespaces → the scratch namespace it was restored into (then deleted). */
  namespaces: Record<string, string>;
  /** The restore time (RTO): from creating the Restore to seeing it Completed. */
  restoreMs?: number;
  /** Items found restored in the scratch namespaces. */
  itemsCompared: number;
  /** Why the drill failed: the step, and what the DR cluster said (escaped). */
  cause?: string;
  durationMs: number;
}

/**
 * Connects to the DR cluster of `drill.cluster` the way `cluster` is connected to (a kubeconfig, a
 * `{server, caData, token}` secret, or EKS; TLS verified unless drill.cluster says otherwise).
 */
export async function liveDrillTarget(
  cluster: DrillClusterConfig,
  options: { warn?: (message: string) => void } = {},
): Promise<LiveDrillTarget> {
  // The schema requires one; checked again so that no caller falls back to KUBECONFIG or ~/.kube/config
  // (the production cluster, most likely).
  if (!cluster.kubeconfig && !cluster.credentials)
    throw new InputError(
      "invalid-config",
      "drill.cluster: set exactly one of kubeconfig, credentials or eks",
      {
        field: "drill.cluster",
        fix: "name the DR cluster's kubeconfig, or its credentials secret",
      },
    );
  const connection = await connectCluster(
    cluster,
    "drill.cluster",
    options.warn ? { warn: options.warn } : {},
  );
  return {
    api: new KubeApi(connection),
    veleroNamespace: cluster.veleroNamespace,
    namespacePrefix: cluster.namespacePrefix,
    syncTimeoutMs: cluster.syncTimeout,
    restoreTimeoutMs: cluster.restoreTimeout,
  };
}

/** A short random [a-z0-9] suffix: scratch namespaces and Restores of different runs never collide. */
export function drillSuffix(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join("");
}

/** A failed step's cause; a refused call names its permission and the manifest that grants it. */
function causeOf(step: string, error: unknown): string {
  if (error instanceof KubeApiError && error.code === "kube-forbidden")
    return `${step}: ${error.message} in the DR cluster (grant it with deploy/dr-rbac.yaml)`;
  return `${step}: ${escapeControl((error as Error).message)}`;
}

class StepFailed extends Error {}

/**
 * Restores `backup` in the DR cluster, compares, cleans up. Never throws: the result says which step
 * failed and why. `resourceList` is the backup's `<name>-resource-list.json.gz`, parsed.
 */
export async function liveDrill(
  target: LiveDrillTarget,
  backup: string,
  resourceList: unknown,
  suffix: string = drillSuffix(),
): Promise<LiveDrillResult> {
  const started = performance.now();
  const { api, veleroNamespace } = target;
  const pollMs = target.pollMs ?? 1_000;
  const wait = target.sleep ?? defaultSleep;
  const result: LiveDrillResult = { ok: false, namespaces: {}, itemsCompared: 0, durationMs: 0 };
  let restoreCreated = false;
  try {
    let listed: { namespaces: string[]; items: ListedItem[] };
    try {
      listed = restorableItems(resourceList);
    } catch (error) {
      throw new StepFailed(causeOf("resource list", error));
    }
    if (listed.namespaces.length === 0)
      throw new StepFailed("resource list: the backup holds no namespaced item: nothing to restore");
    result.namespaces = scratchNamespaces(target.namespacePrefix, suffix, listed.namespaces);

    // sync: the DR Velero lists the backup once its BSL sync has read it from the export.
    const synced = await poll(target.syncTimeoutMs, pollMs, wait, async () => {
      const found = await api.getCustom<unknown>(VELERO_BACKUPS, veleroNamespace, backup);
      if (found === undefined) return { done: false, seen: "not listed" };
      const phase = parseVeleroObject(found, `Backup ${backup}`).status?.phase ?? "";
      return { done: SYNCED_BACKUP_PHASES.has(phase), seen: `phase ${shortInput(phase || "none")}` };
    }).catch((error) => {
      throw new StepFailed(causeOf("sync", error));
    });
    if (!synced.done)
      throw new StepFailed(
        `sync: the DR cluster's Velero did not list Backup ${backup} in a restorable phase within ${formatDuration(target.syncTimeoutMs)} (${synced.seen}); check that its BackupStorageLocation reads the export's velero/ prefix and is Available`,
      );

    // restore
    const name = drillRestoreName(backup, suffix);
    const body = drillRestore({ name, veleroNamespace, backup, namespaceMapping: result.namespaces });
    const createdAt = performance.now();
    try {
      await api.createCustom(VELERO_RESTORES, veleroNamespace, body, {
        verb: "create",
        resource: "restores.velero.io",
        namespace: veleroNamespace,
        name,
      });
    } catch (error) {
      throw new StepFailed(causeOf("restore", error));
    }
    restoreCreated = true;
    result.restore = name;
    let restore: VeleroObjectView | undefined;
    const followed = await poll(target.restoreTimeoutMs, pollMs, wait, async () => {
      const found = await api.getCustom<unknown>(VELERO_RESTORES, veleroNamespace, name);
      if (found === undefined)
        throw new Error(`Restore ${name} disappeared from namespace ${veleroNamespace}`);
      restore = parseVeleroObject(found, `Restore ${name}`);
      const phase = restore.status?.phase ?? "";
      return { done: RESTORE_TERMINAL_PHASES.has(phase), seen: `phase ${shortInput(phase || "New")}` };
    }).catch((error) => {
      throw new StepFailed(causeOf("restore", error));
    });
    if (!followed.done || !restore)
      throw new StepFailed(
        `restore: Restore ${name} did not finish within ${formatDuration(target.restoreTimeoutMs)} (${followed.seen}); it may still create namespaces ${target.namespacePrefix}${suffix}-*: delete them when it ends`,
      );
    const failure = restoreFailure(restore);
    if (failure) throw new StepFailed(`restore: ${failure}`);
    result.restoreMs = Math.max(1, Math.round(performance.now() - createdAt));

    // compare
    const plurals = new Map<string, Promise<unknown>>();
    for (const item of listed.items) {
      const scratch = result.namespaces[item.namespace] as string;
      const what = escapeControl(`${item.kind} ${item.namespace}/${item.name}`);
      try {
        if (!plurals.has(item.apiVersion)) plurals.set(item.apiVersion, discover(api, item));
        const plural = pluralOf(await plurals.get(item.apiVersion), item.kind);
        if (!plural) throw new Error(`the DR cluster does not serve ${item.apiVersion} ${item.kind}`);
        const found = await getItem(api, item, plural, scratch);
        if (found === undefined)
          throw new StepFailed(
            `compare: ${what} of the backup was not restored (not found in namespace ${scratch}; the Restore Completed)`,
          );
        result.itemsCompared += 1;
      } catch (error) {
        if (error instanceof StepFailed) throw error;
        throw new StepFailed(causeOf(`compare ${what}`, error));
      }
    }
    result.ok = true;
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
    result.cause = error.message;
  } finally {
    if (restoreCreated) {
      const problem = await deleteNamespaces(api, Object.values(result.namespaces));
      if (problem) {
        result.ok = false;
        result.cause = result.cause ? `${result.cause}; also ${problem}` : problem;
      }
    }
    result.durationMs = Math.round(performance.now() - started);
  }
  return result;
}

function discoveryPath(item: ListedItem): string {
  return item.group === ""
    ? `/api/${encodeURIComponent(item.version)}`
    : `/apis/${encodeURIComponent(item.group)}/${encodeURIComponent(item.version)}`;
}

/** Discovery of the item's group-version (`/api/v1`, `/apis/<group>/<version>`); any identity may read it. */
function discover(api: KubeApi, item: ListedItem): Promise<unknown> {
  const path = discoveryPath(item);
  // A group-version the DR cluster does not serve (a CRD not installed there) is a 404: undefined.
  return api.callOptional({ verb: "get", resource: `discovery ${item.apiVersion}` }, () =>
    api.request<unknown>("GET", path),
  );
}

/** One restored item in its scratch namespace (undefined when it is not there). */
function getItem(api: KubeApi, item: ListedItem, plural: string, namespace: string): Promise<unknown> {
  const path = `${discoveryPath(item)}/namespaces/${encodeURIComponent(namespace)}/${encodeURIComponent(plural)}/${encodeURIComponent(item.name)}`;
  const resource = item.group === "" ? plural : `${plural}.${item.group}`;
  return api.callOptional({ verb: "get", resource, namespace, name: item.name }, () =>
    api.request<unknown>("GET", path),
  );
}

/** Requests the deletion of each namespace (gone already is fine); says what could not be deleted. */
async function deleteNamespaces(api: KubeApi, names: readonly string[]): Promise<string | undefined> {
  const problems: string[] = [];
  for (const name of names) {
    try {
      await api.callOptional({ verb: "delete", resource: "namespaces", name, idempotent: true }, () =>
        api.request("DELETE", `/api/v1/namespaces/${encodeURIComponent(name)}`),
      );
    } catch (error) {
      problems.push(causeOf(`cleanup of namespace ${name}`, error));
    }
  }
  return problems.length ? `${problems.join("; ")}: delete the scratch namespaces by hand` : undefined;
}

/** Reads until `probe` says done or `timeoutMs` passes; resolves to the last answer. */
async function poll(
  timeoutMs: number,
  pollMs: number,
  wait: (ms: number) => Promise<void>,
  probe: () => Promise<{ done: boolean; seen: string }>,
): Promise<{ done: boolean; seen: string }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer.done || performance.now() >= deadline) return answer;
    await wait(Math.min(pollMs, Math.max(0, deadline - performance.now())));
  }
}

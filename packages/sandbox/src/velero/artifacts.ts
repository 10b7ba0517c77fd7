// What Velero uploads to the BSL for a backup (kots-velero.md §5.7, §6): velero-backup.json, the
// 1.1.0-format tarball, gzip'd logs/results/resource list, and Kopia repository blobs for pod volumes.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { ObjectStore } from "@kots-backup/core";
import type { SandboxClock } from "../clock.ts";
import type { ClusterState } from "../k8s/cluster-state.ts";
import type { KubeObject } from "../k8s/objects.ts";
import { apiVersionOf, groupResource, type ResourceRegistry, type ResourceType } from "../k8s/resources.ts";
import { type LabelSelectorObject, matchesSelectorObject } from "../k8s/selectors.ts";
import { createTarGz, type TarEntry } from "../tar.ts";
import { backupKeys } from "./layout.ts";

/** Resource types Velero would back up from the sandbox's cluster. */
const BACKED_UP = [
  ["", "pods"],
  ["", "secrets"],
  ["", "configmaps"],
  ["", "services"],
  ["", "serviceaccounts"],
  ["apps", "deployments"],
] as const;

export interface BackupItems {
  namespaced: { type: ResourceType; object: KubeObject }[];
  cluster: { type: ResourceType; object: KubeObject }[];
}

/** The objects a Backup's spec selects (namespaces, labelSelector or orLabelSelectors). */
export function selectItems(
  backup: KubeObject,
  state: ClusterState,
  registry: ResourceRegistry,
): BackupItems {
  const spec = backup.spec ?? {};
  const included: string[] = spec.includedNamespaces ?? ["*"];
  const excluded: string[] = spec.excludedNamespaces ?? [];
  const inScope = (ns: string) => (included.includes("*") || included.includes(ns)) && !excluded.includes(ns);
  const selectors: LabelSelectorObject[] = spec.labelSelector
    ? [spec.labelSelector]
    : (spec.orLabelSelectors ?? []);
  const selected = (labels?: Record<string, string>) =>
    selectors.length === 0 || selectors.some((s) => matchesSelectorObject(s, labels));
  const excludedByLabel = (o: KubeObject) => o.metadata.labels?.["velero.io/exclude-from-backup"] === "true";

  const namespaced: BackupItems["namespaced"] = [];
  for (const [group, plural] of BACKED_UP) {
    const type = registry.byResource(group, plural);
    for (const object of state.list(type)) {
      if (
        inScope(object.metadata.namespace!) &&
        selected(object.metadata.labels) &&
        !excludedByLabel(object)
      ) {
        namespaced.push({ type, object });
      }
    }
  }
  const cluster: BackupItems["cluster"] = [];
  if (spec.includeClusterResources !== false) {
    const namespaceType = registry.byResource("", "namespaces");
    for (const object of state.list(namespaceType)) {
      if (inScope(object.metadata.name!)) cluster.push({ type: namespaceType, object });
    }
  }
  return { namespaced, cluster };
}

/** `<name>.tar.gz` in format 1.1.0: metadata/version first, each item at its path and its preferred-version path. */
export async function backupTarball(items: BackupItems, clock: SandboxClock): Promise<Buffer> {
  const entries: TarEntry[] = [{ name: "metadata/version", body: "1.1.0\n" }];
  const add = (type: ResourceType, scopeDir: string, object: KubeObject) => {
    const body = JSON.stringify({ apiVersion: apiVersionOf(type), kind: type.kind, ...object });
    const gr = groupResource(type);
    const file = `${object.metadata.name}.json`;
    entries.push({ name: `resources/${gr}/${scopeDir}/${file}`, body, mode: 0o755 });
    entries.push({
      name: `resources/${gr}/${type.version}-preferredversion/${scopeDir}/${file}`,
      body,
      mode: 0o755,
    });
  };
  for (const { type, object } of items.cluster) add(type, "cluster", object);
  for (const { type, object } of items.namespaced)
    add(type, `namespaces/${object.metadata.namespace}`, object);
  return createTarGz(entries, clock.now());
}

/** JSON map `"<group/version/Kind>"` → `["ns/name" | "name"]`, as Velero's ResourceMap. */
export function resourceList(items: BackupItems): Record<string, string[]> {
  const list: Record<string, string[]> = {};
  const add = (type: ResourceType, id: string) => {
    const key = `${apiVersionOf(type)}/${type.kind}`;
    list[key] = [...(list[key] ?? []), id];
  };
  for (const { type, object } of items.cluster) add(type, object.metadata.name!);
  for (const { type, object } of items.namespaced)
    add(type, `${object.metadata.namespace}/${object.metadata.name}`);
  return list;
}

export interface WriteOptions {
  store: ObjectStore;
  backup: KubeObject;
  items: BackupItems;
  clock: SandboxClock;
  errors: number;
  warnings: number;
  /** Failed backups get metadata, log and results only. */
  failed: boolean;
}

export async function writeBackupArtifacts(options: WriteOptions): Promise<void> {
  const { store, backup, items, clock } = options;
  const name = backup.metadata.name!;
  const keys = backupKeys(name);
  const gz = (value: unknown) => gzipSync(typeof value === "string" ? value : JSON.stringify(value));
  const log = [
    `time="${clock.iso()}" level=info msg="Setting up backup log" backup=${backup.metadata.namespace}/${name} logSource="pkg/controller/backup_controller.go:600"`,
    `time="${clock.iso()}" level=info msg="Backed up a total of ${items.namespaced.length + items.cluster.length} items" backup=${backup.metadata.namespace}/${name}`,
    ...Array.from(
      { length: options.errors },
      (_, i) =>
        `time="${clock.iso()}" level=error msg="simulated error ${i + 1}" backup=${backup.metadata.namespace}/${name}`,
    ),
  ].join("\n");
  const results = {
    errors:
      options.errors > 0
        ? { velero: Array.from({ length: options.errors }, (_, i) => `simulated error ${i + 1}`) }
        : {},
    warnings:
      options.warnings > 0
        ? { velero: Array.from({ length: options.warnings }, (_, i) => `simulated warning ${i + 1}`) }
        : {},
  };
  await store.put(keys.log, gz(`${log}\n`));
  await store.put(keys.results, gz(results));
  if (!options.failed) {
    await store.put(keys.contents, await backupTarball(items, clock));
    await store.put(keys.resourceList, gz(resourceList(items)));
    for (const key of [keys.podVolumeBackups, keys.volumeSnapshots, keys.itemOperations, keys.volumeInfo]) {
      await store.put(key, gz([]));
    }
    for (const namespace of volumeNamespaces(items)) await writeKopiaBlobs(store, namespace, name);
  }
  // Written last: Velero treats velero-backup.json as "this backup exists" when syncing a bucket.
  await store.put(keys.metadata, JSON.stringify(backup));
}

/** Namespaces with pods opted in to file-system backup (`backup.velero.io/backup-volumes`). */
function volumeNamespaces(items: BackupItems): string[] {
  const namespaces = items.namespaced
    .filter(
      ({ type, object }) =>
        type.plural === "pods" && object.metadata.annotations?.["backup.velero.io/backup-volumes"],
    )
    .map(({ object }) => object.metadata.namespace!);
  return [...new Set(namespaces)];
}

/**
 * A Kopia repository under `kopia/<namespace>/` that grows like a real one: repository config
 * written once, a base pack shared by every backup, and new packs plus an index per backup.
 * Content is derived from names only, so runs are reproducible.
 */
async function writeKopiaBlobs(store: ObjectStore, namespace: string, backupName: string): Promise<void> {
  const prefix = `kopia/${namespace}/`;
  const once = async (key: string, seed: string, size: number) => {
    if (!(await store.head(key))) await store.put(key, pseudoRandom(seed, size));
  };
  await once(`${prefix}kopia.repository`, `${namespace}/repository`, 1024);
  await once(`${prefix}kopia.blobcfg`, `${namespace}/blobcfg`, 64);
  await once(
    `${prefix}p${digest(`${namespace}/base-pack`).slice(0, 32)}`,
    `${namespace}/base-pack`,
    16 * 1024,
  );
  for (let i = 0; i < 2; i++) {
    const seed = `${namespace}/${backupName}/pack-${i}`;
    await store.put(`${prefix}p${digest(seed).slice(0, 32)}`, pseudoRandom(seed, 8 * 1024));
  }
  const indexSeed = `${namespace}/${backupName}/index`;
  await store.put(`${prefix}xn0_${digest(indexSeed).slice(0, 32)}`, pseudoRandom(indexSeed, 512));
  await store.put(
    `${prefix}_log_${digest(`${namespace}/${backupName}/log`).slice(0, 32)}`,
    pseudoRandom(`${backupName}/log`, 256),
  );
}

function digest(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

function pseudoRandom(seed: string, size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 32 < size; i++)
    blocks.push(createHash("sha256").update(`${seed}#${i}`).digest());
  return Buffer.concat(blocks).subarray(0, size);
}

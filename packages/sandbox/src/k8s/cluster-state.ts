// The in-memory etcd: objects per resource, one global resourceVersion counter, uids, timestamps,
// and an event history so watches can resume from a resourceVersion.
import { randomUUID } from "node:crypto";
import type { SandboxClock } from "../clock.ts";
import type { KubeObject, StoredEvent } from "./objects.ts";
import { apiVersionOf, groupResource, type ResourceType } from "./resources.ts";
import { alreadyExists, badRequest, conflict, invalid, notFound, StatusError } from "./status.ts";

/** Called before every write; throws a StatusError (422) when the object is invalid. */
export type Validator = (type: ResourceType, object: KubeObject) => void;

const HISTORY_LIMIT = 50_000;
const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"; // apimachinery's utilrand alphabet: no vowels, no 0/1/3
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export class ClusterState {
  private readonly clock: SandboxClock;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  private readonly subscribers = new Set<(event: StoredEvent) => void>();
  private readonly validators: Validator[] = [];
  private revision = 1;
  /** uid → resourceVersion at creation: a total creation order, finer than creationTimestamp. */
  private readonly createdAt = new Map<string, number>();

  constructor(clock: SandboxClock) {
    this.clock = clock;
  }

  addValidator(validator: Validator): void {
    this.validators.push(validator);
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  /** Oldest resourceVersion a watch can still resume from. */
  get oldestWatchableVersion(): number {
    return this.history[0]?.resourceVersion ?? this.revision;
  }

  create(type: ResourceType, input: KubeObject, namespace?: string): KubeObject {
    const object = structuredClone(input);
    object.apiVersion ??= apiVersionOf(type);
    object.kind ??= type.kind;
    object.metadata ??= {};
    const meta = object.metadata;
    if (type.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      meta.namespace = namespace;
      if (namespace !== undefined && !this.find(namespaceType, undefined, namespace)) {
        throw notFound("namespaces", namespace, "", "namespaces");
      }
    } else {
      delete meta.namespace;
    }
    if (!meta.name) {
      if (!meta.generateName) {
        throw invalid(type.kind, type.group, "", [
          { field: "metadata.name", message: "Required value: name or generateName is required" },
        ]);
      }
      meta.name = this.generateName(type, namespace, meta.generateName);
    }
    this.checkName(type, meta.name);
    if (this.find(type, namespace, meta.name)) {
      throw alreadyExists(groupResource(type), meta.name, type.group, type.plural);
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = this.clock.iso();
    meta.generation = 1;
    delete meta.resourceVersion;
    this.validate(type, object);
    const created = this.write(type, object, "ADDED");
    this.createdAt.set(meta.uid, this.revision);
    return created;
  }

  /** Position of an object in creation order (for queues that must be first-come first-served). */
  creationOrder(object: KubeObject): number {
    return this.createdAt.get(object.metadata.uid ?? "") ?? Number.MAX_SAFE_INTEGER;
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = this.find(type, namespace, name);
    if (!found) throw notFound(groupResource(type), name, type.group, type.plural);
    return structuredClone(found);
  }

  find(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(type).get(keyOf(type.namespaced ? namespace : undefined, name));
  }

  /** Every object of a type, in etcd key order (namespace, then name). `namespace` undefined = all. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    const keys = [...this.bucket(type).keys()].sort();
    const prefix = namespace === undefined ? "" : `${namespace}/`;
    const out: KubeObject[] = [];
    for (const key of keys) {
      if (key.startsWith(prefix)) out.push(structuredClone(this.bucket(type).get(key)!));
    }
    return out;
  }

  /**
   * Replaces an object (PUT). The incoming resourceVersion must match the stored one (optimistic
   * concurrency); identity fields (uid, creationTimestamp) are kept from the stored object.
   */
  update(
    type: ResourceType,
    input: KubeObject,
    options: { requireResourceVersion?: boolean } = {},
  ): KubeObject {
    const name = input.metadata?.name ?? "";
    const namespace = type.namespaced ? input.metadata?.namespace : undefined;
    const current = this.find(type, namespace, name);
    if (!current) throw notFound(groupResource(type), name, type.group, type.plural);
    const incomingVersion = input.metadata.resourceVersion;
    if (incomingVersion === undefined || incomingVersion === "") {
      if (options.requireResourceVersion) {
        throw invalid(type.kind, type.group, name, [
          {
            field: "metadata.resourceVersion",
            message: "Invalid value: 0x0: must be specified for an update",
          },
        ]);
      }
    } else if (incomingVersion !== current.metadata.resourceVersion) {
      throw conflict(groupResource(type), name, type.group, type.plural);
    }
    const object = structuredClone(input);
    object.apiVersion ??= apiVersionOf(type);
    object.kind ??= type.kind;
    object.metadata.uid = current.metadata.uid;
    object.metadata.creationTimestamp = current.metadata.creationTimestamp;
    object.metadata.namespace = current.metadata.namespace;
    const specChanged = JSON.stringify(object.spec) !== JSON.stringify(current.spec);
    object.metadata.generation = (current.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    this.validate(type, object);
    return this.write(type, object, "MODIFIED");
  }

  /** Read-modify-write for in-process controllers (they own their objects; no conflicts to retry). */
  mutate(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    change: (o: KubeObject) => void,
  ): KubeObject {
    const object = this.get(type, namespace, name);
    change(object);
    return this.update(type, object);
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const current = this.find(type, namespace, name);
    if (!current) throw notFound(groupResource(type), name, type.group, type.plural);
    this.bucket(type).delete(keyOf(type.namespaced ? namespace : undefined, name));
    this.createdAt.delete(current.metadata.uid ?? "");
    this.revision += 1;
    const deleted = structuredClone(current);
    deleted.metadata.resourceVersion = String(this.revision);
    this.record({
      type: "DELETED",
      resource: groupResource(type),
      object: deleted,
      resourceVersion: this.revision,
    });
    return structuredClone(deleted);
  }

  /** Events after `resourceVersion` for one resource; throws 410 Gone when history no longer has them. */
  eventsSince(type: ResourceType, resourceVersion: number): StoredEvent[] {
    if (resourceVersion < this.oldestWatchableVersion - 1) {
      throw new StatusError(
        410,
        "Expired",
        `too old resource version: ${resourceVersion} (${this.oldestWatchableVersion})`,
      );
    }
    const resource = groupResource(type);
    return this.history.filter((e) => e.resource === resource && e.resourceVersion > resourceVersion);
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  private write(type: ResourceType, object: KubeObject, eventType: "ADDED" | "MODIFIED"): KubeObject {
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    this.bucket(type).set(keyOf(object.metadata.namespace, object.metadata.name!), object);
    const copy = structuredClone(object);
    this.record({
      type: eventType,
      resource: groupResource(type),
      object: copy,
      resourceVersion: this.revision,
    });
    return structuredClone(object);
  }

  private record(event: StoredEvent): void {
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT);
    for (const subscriber of this.subscribers) subscriber(event);
  }

  private validate(type: ResourceType, object: KubeObject): void {
    for (const validator of this.validators) validator(type, object);
  }

  private checkName(type: ResourceType, name: string): void {
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      throw invalid(type.kind, type.group, name, [
        {
          field: "metadata.name",
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ]);
    }
  }

  /** `generateName` + 5 random characters; retried on collision, as kube-apiserver ≥ 1.32 does. */
  private generateName(type: ResourceType, namespace: string | undefined, base: string): string {
    const prefix = base.length > 58 ? base.slice(0, 58) : base;
    for (let attempt = 0; attempt < 8; attempt++) {
      let suffix = "";
      for (let i = 0; i < 5; i++) suffix += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
      if (!this.find(type, namespace, prefix + suffix)) return prefix + suffix;
    }
    throw alreadyExists(groupResource(type), `${prefix}xxxxx`, type.group, type.plural);
  }

  private bucket(type: ResourceType): Map<string, KubeObject> {
    const key = groupResource(type);
    let bucket = this.objects.get(key);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(key, bucket);
    }
    return bucket;
  }
}

const namespaceType: ResourceType = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
  builtin: true,
};

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

// A thin wrapper over @kubernetes/client-node: the calls kots-backup makes, each named as
// `verb resource in namespace` so a refusal says which RBAC rule is missing, with client-node's
// errors mapped once (errors.ts) and reads retried (retry.ts) on 429, 5xx and broken connections.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1ConfigMap,
  type V1Deployment,
  type V1Pod,
  type V1Secret,
  Watch,
} from "@kubernetes/client-node";
import { type RetryInfo, type RetryPolicy, withRetry } from "../retry.ts";
import type { KubeConnection } from "./connection.ts";
import { classifyKubeFailure, KubeApiError, type KubeOperation, mapKubeError } from "./errors.ts";

export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

export const VELERO_BACKUPS: CustomResource = { group: "velero.io", version: "v1", plural: "backups" };
export const VELERO_BSLS: CustomResource = {
  group: "velero.io",
  version: "v1",
  plural: "backupstoragelocations",
};

export interface ListPage<T> {
  items: T[];
  continue?: string;
  resourceVersion?: string;
}

export interface KubeApiOptions {
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about every retry (for logs: no secrets in it). */
  onRetry?: (op: KubeOperation, info: RetryInfo) => void;
}

/** The page size used for lists that may be long (Velero Backups): the kubectl default. */
export const LIST_PAGE_SIZE = 500;

function resourceName(r: CustomResource): string {
  return `${r.plural}.${r.group}`;
}

export class KubeApi {
  readonly connection: KubeConnection;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
  readonly #options: KubeApiOptions;

  constructor(connection: KubeConnection, options: KubeApiOptions = {}) {
    this.connection = connection;
    this.core = connection.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = connection.kubeConfig.makeApiClient(AppsV1Api);
    this.custom = connection.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#options = options;
  }

  get server(): string {
    return this.connection.server;
  }

  /** Runs one API call: retried when `op` is idempotent and the failure transient, errors mapped. */
  async call<T>(op: KubeOperation, fn: () => Promise<T>): Promise<T> {
    const idempotent = op.idempotent ?? (op.verb === "get" || op.verb === "list" || op.verb === "watch");
    const withIdempotence = { ...op, idempotent };
    try {
      return await withRetry(fn, {
        classify: (error) => classifyKubeFailure(error, withIdempotence),
        ...(this.#options.retry ? { policy: this.#options.retry } : {}),
        ...(this.#options.sleep ? { sleep: this.#options.sleep } : {}),
        onRetry: (info) => this.#options.onRetry?.(withIdempotence, info),
      });
    } catch (error) {
      throw mapKubeError(error, withIdempotence, this.server);
    }
  }

  /** Like `call`, but a 404 is `undefined`. */
  async callOptional<T>(op: KubeOperation, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(op, fn);
    } catch (error) {
      if ((error as KubeApiError).status === 404) return undefined;
      throw error;
    }
  }

  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    return this.call({ verb: "list", resource: "pods", namespace }, async () => {
      return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
    });
  }

  getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.callOptional({ verb: "get", resource: "secrets", namespace, name }, () =>
      this.core.readNamespacedSecret({ namespace, name }),
    );
  }

  getConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    return this.callOptional({ verb: "get", resource: "configmaps", namespace, name }, () =>
      this.core.readNamespacedConfigMap({ namespace, name }),
    );
  }

  /** Deployments named `name`, in `namespace` or (undefined) cluster-wide. */
  listDeploymentsNamed(name: string, namespace?: string): Promise<V1Deployment[]> {
    const fieldSelector = `metadata.name=${name}`;
    return this.call(
      { verb: "list", resource: "deployments.apps", ...(namespace ? { namespace } : {}) },
      async () => {
        const list = namespace
          ? await this.apps.listNamespacedDeployment({ namespace, fieldSelector })
          : await this.apps.listDeploymentForAllNamespaces({ fieldSelector });
        // The field selector is an optimisation: filter again in case a server ignores it.
        return list.items.filter((d) => d.metadata?.name === name);
      },
    );
  }

  /** One page of a namespaced custom resource list. */
  listCustomPage<T>(
    resource: CustomResource,
    namespace: string,
    options: { limit?: number; continue?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<ListPage<T>> {
    return this.call({ verb: "list", resource: resourceName(resource), namespace }, async () => {
      const list = (await this.custom.listNamespacedCustomObject({
        ...resource,
        namespace,
        ...(options.limit === undefined ? {} : { limit: options.limit }),
        ...(options.continue === undefined ? {} : { _continue: options.continue }),
        ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
        ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
      })) as { items?: T[]; metadata?: { continue?: string; resourceVersion?: string } };
      const page: ListPage<T> = { items: list.items ?? [] };
      if (list.metadata?.continue) page.continue = list.metadata.continue;
      if (list.metadata?.resourceVersion) page.resourceVersion = list.metadata.resourceVersion;
      return page;
    });
  }

  /** Every item of a namespaced custom resource, page by page (`limit` + `continue`). */
  async listCustomAll<T>(
    resource: CustomResource,
    namespace: string,
    options: { labelSelector?: string; pageSize?: number } = {},
  ): Promise<T[]> {
    const items: T[] = [];
    let cont: string | undefined;
    for (let guard = 0; guard < 100_000; guard++) {
      const page = await this.listCustomPage<T>(resource, namespace, {
        limit: options.pageSize ?? LIST_PAGE_SIZE,
        ...(cont === undefined ? {} : { continue: cont }),
        ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
      });
      items.push(...page.items);
      if (!page.continue) break;
      cont = page.continue;
    }
    return items;
  }

  getCustom<T>(resource: CustomResource, namespace: string, name: string): Promise<T | undefined> {
    return this.callOptional({ verb: "get", resource: resourceName(resource), namespace, name }, async () => {
      return (await this.custom.getNamespacedCustomObject({ ...resource, namespace, name })) as T;
    });
  }

  /**
   * Watches one named object of a custom resource until `done` is called or the server closes the
   * stream. Resolves to an abort function. Errors (including the initial response) reach `onEnd`.
   */
  async watchCustomNamed<T>(
    resource: CustomResource,
    namespace: string,
    name: string,
    onEvent: (type: string, object: T) => void,
    onEnd: (error: KubeApiError | undefined) => void,
    resourceVersion?: string,
  ): Promise<() => void> {
    const op: KubeOperation = { verb: "watch", resource: resourceName(resource), namespace, name };
    const watch = new Watch(this.connection.kubeConfig);
    const path = `/apis/${resource.group}/${resource.version}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
    try {
      const controller = await watch.watch(
        path,
        {
          fieldSelector: `metadata.name=${name}`,
          allowWatchBookmarks: true,
          ...(resourceVersion ? { resourceVersion } : {}),
        },
        (type, object) => onEvent(type, object as T),
        (error) => {
          if ((error as { name?: unknown } | null)?.name === "TimeoutError") {
            onEnd(new KubeApiError("watch-idle", `watch on ${name} was idle and ended`, op));
          } else onEnd(error ? mapKubeError(error, op, this.server) : undefined);
        },
      );
      return () => controller.abort();
    } catch (error) {
      onEnd(mapKubeError(error, op, this.server));
      return () => {};
    }
  }
}

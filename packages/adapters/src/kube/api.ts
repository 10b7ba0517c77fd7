// A thin client for the Kubernetes API calls kots-backup makes, each named as `verb resource in
// namespace` so a refusal says which RBAC rule is missing, with errors mapped once (errors.ts) and reads
// retried (retry.ts) on 429, 5xx and broken connections.
//
// Requests go out through transport.ts (node:https with client-node's KubeConfig TLS settings and
// credentials) rather than client-node's generated API classes: those, the ~760 model classes their
// deserializer needs and the private undici they send with are ~2 MB of a Lambda bundle to load at every
// cold start, for a handful of endpoints. Non-2xx answers still fail with client-node's ApiException
// (`code`, `body`, `headers`), as from those classes; objects come back as the API server's JSON
// (timestamps stay strings), typed below by the fields kots-backup reads.
import { STATUS_CODES } from "node:http";
import { createInterface } from "node:readline";
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { type RetryInfo, type RetryPolicy, withRetry } from "../retry.ts";
import type { KubeConnection } from "./connection.ts";
import { classifyKubeFailure, KubeApiError, type KubeOperation, mapKubeError } from "./errors.ts";
import { flatHeaders, type KubeQuery, openKubeRequest, readText } from "./transport.ts";

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
  /** A watch idle this long ends with `watch-idle` (default 30 s, as client-node's Watch). */
  watchIdleMs?: number;
}

/** The page size used for lists that may be long (Velero Backups): the kubectl default. */
export const LIST_PAGE_SIZE = 500;

/** An object's metadata, as far as kots-backup reads it. */
export interface KubeObjectMeta {
  name?: string;
  namespace?: string;
  /** RFC 3339, set once the object is being deleted. */
  deletionTimestamp?: string;
  resourceVersion?: string;
}

export interface KubePod {
  metadata?: KubeObjectMeta;
  status?: { phase?: string };
}

export interface KubeSecret {
  metadata?: KubeObjectMeta;
  /** Base64 values. */
  data?: Record<string, string>;
}

export interface KubeConfigMap {
  metadata?: KubeObjectMeta;
  data?: Record<string, string>;
}

export interface KubeDeployment {
  metadata?: KubeObjectMeta;
}

interface KubeList<T> {
  items?: T[];
  metadata?: { continue?: string; resourceVersion?: string };
}

/** client-node's Watch ends a watch after this long without a byte (then it is watched again). */
const WATCH_IDLE_MS = 30_000;

function resourceName(r: CustomResource): string {
  return `${r.plural}.${r.group}`;
}

function customPath(r: CustomResource, namespace: string, name?: string): string {
  const collection = `/apis/${encodeURIComponent(r.group)}/${encodeURIComponent(r.version)}/namespaces/${encodeURIComponent(namespace)}/${encodeURIComponent(r.plural)}`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

export class KubeApi {
  readonly connection: KubeConnection;
  readonly #options: KubeApiOptions;

  constructor(connection: KubeConnection, options: KubeApiOptions = {}) {
    this.connection = connection;
    this.#options = options;
  }

  /**
   * One request to the API server, authenticated by the connection's KubeConfig. Resolves to the parsed
   * JSON of a 2xx answer; rejects with client-node's ApiException (`code`, `body`, `headers`) otherwise,
   * or with the network error when there was no answer. Not retried, errors not mapped: see `call`.
   */
  async request<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    query: KubeQuery = {},
    body?: unknown,
  ): Promise<T> {
    const exchange = await openKubeRequest(this.connection.kubeConfig, { method, path, query, body });
    const status = exchange.response.statusCode ?? 0;
    const headers = flatHeaders(exchange.response.headers);
    const text = await readText(exchange);
    if (status >= 200 && status <= 299) return JSON.parse(text) as T;
    if (status === 401) throw new ApiException(status, "Unauthorized", undefined, headers);
    throw new ApiException(status, "Unknown API Status Code!", text, headers);
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

  listPods(namespace: string, labelSelector: string): Promise<KubePod[]> {
    return this.call({ verb: "list", resource: "pods", namespace }, async () => {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
      return (await this.request<KubeList<KubePod>>("GET", path, { labelSelector })).items ?? [];
    });
  }

  getSecret(namespace: string, name: string): Promise<KubeSecret | undefined> {
    return this.callOptional({ verb: "get", resource: "secrets", namespace, name }, () =>
      this.request<KubeSecret>(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      ),
    );
  }

  getConfigMap(namespace: string, name: string): Promise<KubeConfigMap | undefined> {
    return this.callOptional({ verb: "get", resource: "configmaps", namespace, name }, () =>
      this.request<KubeConfigMap>(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
      ),
    );
  }

  /** Deployments named `name`, in `namespace` or (undefined) cluster-wide. */
  listDeploymentsNamed(name: string, namespace?: string): Promise<KubeDeployment[]> {
    const fieldSelector = `metadata.name=${name}`;
    return this.call(
      { verb: "list", resource: "deployments.apps", ...(namespace ? { namespace } : {}) },
      async () => {
        const path = namespace
          ? `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`
          : "/apis/apps/v1/deployments";
        const list = await this.request<KubeList<KubeDeployment>>("GET", path, { fieldSelector });
        // The field selector is an optimisation: filter again in case a server ignores it.
        return (list.items ?? []).filter((d) => d.metadata?.name === name);
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
      const list = await this.request<KubeList<T>>("GET", customPath(resource, namespace), {
        continue: options.continue,
        fieldSelector: options.fieldSelector,
        labelSelector: options.labelSelector,
        limit: options.limit,
      });
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
    return this.callOptional({ verb: "get", resource: resourceName(resource), namespace, name }, () =>
      this.request<T>("GET", customPath(resource, namespace, name)),
    );
  }

  /** Creates a namespaced custom object; `op` names the call (creates are not idempotent: never retried). */
  createCustom<T>(resource: CustomResource, namespace: string, body: unknown, op: KubeOperation): Promise<T> {
    return this.call(op, () => this.request<T>("POST", customPath(resource, namespace), {}, body));
  }

  /**
   * Watches one named object of a custom resource until the returned abort function is called or the
   * server closes the stream, as client-node's Watch does (bookmarks allowed; a watch idle for 30 s ends
   * with `watch-idle`). Errors (including the initial response) reach `onEnd`, once.
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
    const controller = new AbortController();
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      controller.abort();
      if (!error) onEnd(undefined);
      else if ((error as { name?: unknown }).name === "TimeoutError") {
        onEnd(new KubeApiError("watch-idle", `watch on ${name} was idle and ended`, op));
      } else onEnd(mapKubeError(error, op, this.server));
    };
    try {
      const exchange = await openKubeRequest(this.connection.kubeConfig, {
        method: "GET",
        path: customPath(resource, namespace),
        query: {
          watch: true,
          fieldSelector: `metadata.name=${name}`,
          allowWatchBookmarks: true,
          resourceVersion: resourceVersion || undefined,
        },
        idleTimeoutMs: this.#options.watchIdleMs ?? WATCH_IDLE_MS,
        idleError: () => new DOMException("The operation was aborted due to timeout", "TimeoutError"),
        signal: controller.signal,
        streaming: true,
      });
      const { response } = exchange;
      response.on("error", (error) => end(exchange.cutReason() ?? error));
      if (response.errored) throw exchange.cutReason() ?? response.errored;
      if (response.statusCode !== 200) {
        response.resume();
        const status = response.statusCode ?? 500;
        throw Object.assign(
          new Error(response.statusMessage || STATUS_CODES[status] || "Internal Server Error"),
          { statusCode: status },
        );
      }
      const lines = createInterface({ input: response, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on("line", (line) => {
        if (ended) return;
        // As client-node's Watch: a line that is not an event (or that onEvent throws on) is skipped.
        try {
          const event = JSON.parse(line) as { type: string; object: T };
          onEvent(event.type, event.object);
        } catch {}
      });
      // readline re-emits the response's errors (handled above); a listener keeps them from being thrown.
      lines.on("error", (error) => end(exchange.cutReason() ?? error));
      lines.on("close", () => end());
    } catch (error) {
      end(error);
    }
    return () => controller.abort();
  }
}

// The KotsCluster port over a real cluster: discovery (lazy, config first), kotsadm over a
// port-forward, Velero Backups from the API. One instance per command or Lambda invocation.
import type { ClusterApp, ClusterBackupRequest, FollowBackupOptions, KotsCluster } from "@kots-backup/core";
import type { VeleroBackup } from "@kots-backup/core/velero";
import type { RetryInfo, RetryPolicy } from "../retry.ts";
import { KubeApi } from "./api.ts";
import type { KubeConnection } from "./connection.ts";
import {
  type BackupStorageLocationInfo,
  findDefaultBsl,
  findKotsadmPod,
  findVeleroNamespace,
  type VeleroNamespaceSource,
} from "./discovery.ts";
import type { KubeOperation } from "./errors.ts";
import { KotsadmClient } from "./kotsadm.ts";
import type { PortForwardHandle } from "./portforward.ts";
import { followVeleroBackup, getVeleroBackup, listVeleroBackups } from "./velero.ts";

export interface KubeKotsClusterOptions {
  /** `cluster.name` (default `kots`). */
  name?: string;
  /** Default: the connection's namespace (context namespace, else `default`). */
  kotsadmNamespace?: string;
  /** Default: discovered (ConfigMap kotsadm-velero-namespace, else the `velero` Deployment). */
  veleroNamespace?: string;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about retries, for logs. Never carries secrets. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Page size for Backup lists (default 500). */
  pageSize?: number;
  /** For tests only: reach kotsadm some other way than a port-forward. */
  kotsadmEndpoint?: () => Promise<PortForwardHandle>;
}

export class KubeKotsCluster implements KotsCluster {
  readonly name: string;
  readonly kotsadmNamespace: string;
  readonly api: KubeApi;
  readonly #options: KubeKotsClusterOptions;
  #velero: Promise<{ namespace: string; source: VeleroNamespaceSource }> | undefined;
  #kotsadm: Promise<KotsadmClient> | undefined;

  constructor(connection: KubeConnection, options: KubeKotsClusterOptions = {}) {
    this.name = options.name ?? "kots";
    this.kotsadmNamespace = options.kotsadmNamespace ?? connection.namespace;
    this.#options = options;
    this.api = new KubeApi(connection, {
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      onRetry: (op: KubeOperation, info: RetryInfo) =>
        options.log?.("retrying Kubernetes call", {
          call: `${op.verb} ${op.resource}`,
          attempt: info.attempt,
          delayMs: info.delayMs,
          reason: info.reason,
        }),
    });
  }

  /**
   * Velero's namespace and how it was found (memoised). Not logged: every command would print it;
   * `doctor` shows it with its source.
   */
  veleroNamespace(): Promise<{ namespace: string; source: VeleroNamespaceSource }> {
    this.#velero ??= findVeleroNamespace(this.api, this.kotsadmNamespace, this.#options.veleroNamespace);
    this.#velero.catch(() => {
      this.#velero = undefined;
    });
    return this.#velero;
  }

  async defaultBsl(): Promise<BackupStorageLocationInfo> {
    return findDefaultBsl(this.api, (await this.veleroNamespace()).namespace);
  }

  /** The kotsadm client (finds the Running pod once, opens the port-forward on first use). */
  kotsadm(): Promise<KotsadmClient> {
    this.#kotsadm ??= findKotsadmPod(this.api, this.kotsadmNamespace).then(
      (pod) =>
        new KotsadmClient({
          api: this.api,
          namespace: this.kotsadmNamespace,
          pod,
          ...(this.#options.retry ? { retry: this.#options.retry } : {}),
          ...(this.#options.sleep ? { sleep: this.#options.sleep } : {}),
          ...(this.#options.kotsadmEndpoint ? { endpoint: this.#options.kotsadmEndpoint } : {}),
        }),
    );
    this.#kotsadm.catch(() => {
      this.#kotsadm = undefined;
    });
    return this.#kotsadm;
  }

  async listApps(): Promise<ClusterApp[]> {
    return (await this.kotsadm()).listApps();
  }

  async listBackups(): Promise<VeleroBackup[]> {
    return listVeleroBackups(this.api, (await this.veleroNamespace()).namespace, this.#options.pageSize);
  }

  async getBackup(name: string): Promise<VeleroBackup | undefined> {
    return getVeleroBackup(this.api, (await this.veleroNamespace()).namespace, name);
  }

  async requestBackup(request: ClusterBackupRequest): Promise<{ name?: string }> {
    const kotsadm = await this.kotsadm();
    if (request.type === "partial") {
      if (!request.app) throw new Error("requestBackup: a partial backup needs an app slug");
      await kotsadm.requestAppBackup(request.app);
      return {};
    }
    const answer = await kotsadm.requestInstanceBackup();
    return answer.backupName ? { name: answer.backupName } : {};
  }

  async followBackup(name: string, options: FollowBackupOptions): Promise<VeleroBackup> {
    const namespace = (await this.veleroNamespace()).namespace;
    return followVeleroBackup(this.api, namespace, name, {
      timeoutMs: options.timeoutMs,
      ...(options.onUpdate ? { onUpdate: options.onUpdate } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(this.#options.sleep ? { sleep: this.#options.sleep } : {}),
    });
  }

  async close(): Promise<void> {
    const kotsadm = this.#kotsadm;
    this.#kotsadm = undefined;
    if (kotsadm) await (await kotsadm.catch(() => undefined))?.close();
  }
}

// The simulated Velero server: backup, DownloadRequest and DeleteBackupRequest controllers plus the
// default BackupStorageLocation, all driven by the sandbox clock (a TimeListener).
import type { ObjectStore } from "@kots-backup/core";
import type { SandboxClock, TimeListener } from "../clock.ts";
import type { Faults } from "../faults.ts";
import type { ClusterState } from "../k8s/cluster-state.ts";
import type { KubeObject } from "../k8s/objects.ts";
import type { ResourceRegistry } from "../k8s/resources.ts";
import { BackupController } from "./backup-controller.ts";
import { DownloadRequestController } from "./download-controller.ts";
import { backupKeys } from "./layout.ts";
import type { BackupScript } from "./script.ts";
import { SignedUrlServer } from "./signed-urls.ts";

export interface VeleroOptions {
  state: ClusterState;
  registry: ResourceRegistry;
  clock: SandboxClock;
  faults: Faults;
  namespace: string;
  /** The BSL's object store (keys relative to the BSL prefix). */
  store: ObjectStore;
  bucket: string;
}

export class Velero implements TimeListener {
  readonly namespace: string;
  readonly store: ObjectStore;
  readonly backups: BackupController;
  readonly downloads: DownloadRequestController;
  readonly urls: SignedUrlServer;
  private readonly options: VeleroOptions;
  private running: Promise<boolean> = Promise.resolve(false);

  constructor(options: VeleroOptions) {
    this.options = options;
    this.namespace = options.namespace;
    this.store = options.store;
    this.urls = new SignedUrlServer({
      store: options.store,
      clock: options.clock,
      faults: options.faults,
      bucket: options.bucket,
    });
    this.backups = new BackupController(options);
    this.downloads = new DownloadRequestController({ ...options, urls: this.urls });
  }

  /** Creates the `default` BSL (Available) pointing at the injected store. */
  createDefaultBsl(phase: "Available" | "Unavailable" = "Available"): void {
    const { state, registry, clock, bucket } = this.options;
    state.create(
      registry.byResource("velero.io", "backupstoragelocations"),
      {
        apiVersion: "velero.io/v1",
        kind: "BackupStorageLocation",
        metadata: { name: "default", labels: { component: "velero" } },
        spec: {
          provider: "aws",
          default: true,
          accessMode: "ReadWrite",
          objectStorage: { bucket },
          config: { region: "us-east-1", s3ForcePathStyle: "true", s3Url: "http://minio.velero.svc:9000" },
          credential: { name: "cloud-credentials", key: "cloud" },
        },
        status: { phase, lastSyncedTime: clock.iso(), lastValidationTime: clock.iso() },
      },
      this.namespace,
    );
  }

  /** Scenario control: the default BSL reports Available or Unavailable (with a message). */
  setBslPhase(phase: "Available" | "Unavailable", message?: string): void {
    const { state, registry, clock } = this.options;
    state.mutate(
      registry.byResource("velero.io", "backupstoragelocations"),
      this.namespace,
      "default",
      (bsl) => {
        bsl.status = {
          ...bsl.status,
          phase,
          lastValidationTime: clock.iso(),
          ...(phase === "Unavailable"
            ? {
                message:
                  message ??
                  'BackupStorageLocation "default" is unavailable: rpc error: code = Unknown desc = AccessDenied',
              }
            : {}),
        };
        if (phase === "Available") delete bsl.status.message;
      },
    );
  }

  script(name: string, script: BackupScript): void {
    this.backups.script(name, script);
  }

  scriptNext(...scripts: BackupScript[]): void {
    this.backups.scriptNext(...scripts);
  }

  set defaultScript(script: BackupScript) {
    this.backups.defaultScript = script;
  }

  /** When false, DownloadRequests stay unprocessed (no URL ever appears). */
  set processDownloadRequests(value: boolean) {
    this.downloads.processRequests = value;
  }

  nextDeadline(): number | undefined {
    const deadlines = [this.backups.nextDeadline(), this.downloads.nextDeadline()].filter(
      (d) => d !== undefined,
    );
    return deadlines.length ? Math.min(...deadlines) : undefined;
  }

  /** Serialised: the clock and object-change kicks may both ask for a pass at once. */
  reconcile(): Promise<boolean> {
    this.running = this.running.then(
      () => this.pass(),
      () => this.pass(),
    );
    return this.running;
  }

  private async pass(): Promise<boolean> {
    const backups = await this.backups.reconcile();
    const downloads = this.downloads.reconcile();
    const deletions = await this.processDeleteRequests();
    return backups || downloads || deletions;
  }

  /**
   * DeleteBackupRequest (backup_deletion_controller.go): removes the backup's objects from the BSL and
   * the Backup CR, or records why not (backup missing or still running, BSL unavailable).
   */
  private async processDeleteRequests(): Promise<boolean> {
    const { state, registry } = this.options;
    const requestType = registry.byResource("velero.io", "deletebackuprequests");
    const backupType = registry.byResource("velero.io", "backups");
    let changed = false;
    for (const request of state.list(requestType, this.namespace)) {
      if (request.status?.phase === "Processed") continue;
      const name: string = request.spec?.backupName ?? "";
      const backup = state.find(backupType, this.namespace, name);
      const errors = this.deletionErrors(backup, name);
      if (errors.length === 0 && backup) {
        for (const key of Object.values(backupKeys(name))) await this.store.delete(key);
        state.delete(backupType, this.namespace, name);
      }
      state.mutate(requestType, this.namespace, request.metadata.name!, (r) => {
        r.metadata.labels = { ...r.metadata.labels, "velero.io/backup-name": name };
        r.status = { phase: "Processed", ...(errors.length ? { errors } : {}) };
      });
      changed = true;
    }
    return changed;
  }

  private deletionErrors(backup: KubeObject | undefined, name: string): string[] {
    if (!backup) return [`backup ${name} not found`];
    const phase: string = backup.status?.phase ?? "New";
    if (["New", "Queued", "ReadyToStart", "InProgress"].includes(phase))
      return ["backup is still in progress"];
    const bsl = this.options.state.find(
      this.options.registry.byResource("velero.io", "backupstoragelocations"),
      this.namespace,
      backup.spec?.storageLocation || "default",
    );
    if (!bsl) return ["backup storage location not found"];
    if (bsl.status?.phase !== "Available")
      return ["cannot delete backup because backup storage location default is currently unavailable"];
    return [];
  }
}

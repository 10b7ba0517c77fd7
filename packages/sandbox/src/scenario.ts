// Scenario building: preload Backups as they would look after Velero ran them (KOTS instance and app
// backups, other Velero users' backups, other kotsadm namespaces, improved-DR pairs, thousands at once).
import { randomBytes } from "node:crypto";
import type { ObjectStore } from "@kots-backup/core";
import type { SandboxClock } from "./clock.ts";
import type { ClusterState } from "./k8s/cluster-state.ts";
import type { KubeObject } from "./k8s/objects.ts";
import type { ResourceRegistry } from "./k8s/resources.ts";
import { appBackup, instanceBackup } from "./kotsadm/backup-specs.ts";
import type { Kotsadm } from "./kotsadm/kotsadm.ts";
import { setVeleroNamespaceHint } from "./seed.ts";
import { selectItems, writeBackupArtifacts } from "./velero/artifacts.ts";
import { ttlMs } from "./velero/backup-controller.ts";

export type BackupPhase =
  | "New"
  | "Queued"
  | "InProgress"
  | "WaitingForPluginOperations"
  | "Finalizing"
  | "Completed"
  | "PartiallyFailed"
  | "Failed"
  | "FailedValidation";

export interface PreloadBackup {
  /** Default: generated from the kind's generateName (`instance-xxxxx`, `<slug>-xxxxx`). */
  name?: string;
  /** `instance` (legacy KOTS), `app` (partial), `other` (a non-KOTS Velero backup). Default instance. */
  kind?: "instance" | "app" | "other";
  appSlug?: string;
  /** For instance backups of another kotsadm install. Default: the sandbox's. */
  kotsadmNamespace?: string;
  /** Default Completed. Non-terminal phases are left alone by the controller (a stuck backup), except New. */
  phase?: BackupPhase;
  trigger?: "manual" | "schedule";
  /** When the backup started; default now. Also the `kots.io/snapshot-requested` time. */
  startedAt?: Date;
  /** Completion = start + duration for terminal phases. Default 60 s. */
  durationMs?: number;
  errors?: number;
  warnings?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ttl?: string;
  /** Upload the backup's objects to the BSL. Default true for Completed/PartiallyFailed/Failed. */
  writeArtifacts?: boolean;
}

const TERMINAL = new Set(["Completed", "PartiallyFailed", "Failed", "FailedValidation"]);

export interface ScenarioDependencies {
  state: ClusterState;
  registry: ResourceRegistry;
  clock: SandboxClock;
  kotsadm: Kotsadm;
  store: ObjectStore;
  kotsadmNamespace: string;
  veleroNamespace: string;
}

export class Scenario {
  private readonly deps: ScenarioDependencies;

  constructor(deps: ScenarioDependencies) {
    this.deps = deps;
  }

  async addBackup(options: PreloadBackup = {}): Promise<KubeObject> {
    const backup = this.buildBackup(options);
    const created = this.deps.state.create(this.backupType(), backup, this.deps.veleroNamespace);
    const phase = options.phase ?? "Completed";
    if (options.writeArtifacts ?? (TERMINAL.has(phase) && phase !== "FailedValidation")) {
      await writeBackupArtifacts({
        store: this.deps.store,
        backup: created,
        items: selectItems(created, this.deps.state, this.deps.registry),
        clock: this.deps.clock,
        errors: created.status?.errors ?? 0,
        warnings: created.status?.warnings ?? 0,
        failed: phase === "Failed",
      });
    }
    return created;
  }

  /** Many backups quickly: `options(i)` per backup; artifacts are not uploaded unless asked. */
  async addBackups(count: number, options: (index: number) => PreloadBackup): Promise<KubeObject[]> {
    const created: KubeObject[] = [];
    for (let i = 0; i < count; i++)
      created.push(await this.addBackup({ writeArtifacts: false, ...options(i) }));
    return created;
  }

  /** An improved-DR pair (Embedded Cluster): `instance-…` (infra) + `application-…` (app), one label. */
  async addImprovedDrPair(
    options: Omit<PreloadBackup, "kind" | "name"> & { infraPhase?: BackupPhase; appPhase?: BackupPhase } = {},
  ): Promise<KubeObject[]> {
    const groupName = `${options.appSlug ?? "instance"}-${randomBytes(4).toString("hex")}`;
    const common = this.instanceAnnotations(options);
    delete common["kots.io/instance"];
    const shared = { "replicated.com/disaster-recovery-version": "1", "replicated.com/backup-count": "2" };
    const labels = { ...options.labels, "replicated.com/backup-name": groupName };
    const infra = await this.addBackup({
      ...options,
      phase: options.infraPhase ?? options.phase,
      kind: "other",
      name: `instance-${randomSuffix()}`,
      labels,
      annotations: { ...common, ...shared, "replicated.com/backup-type": "infra", ...options.annotations },
    });
    const restoreSpec = {
      apiVersion: "velero.io/v1",
      kind: "Restore",
      metadata: { name: "restore" },
      spec: { backupName: "", includedNamespaces: ["*"] },
    };
    const app = await this.addBackup({
      ...options,
      phase: options.appPhase ?? options.phase,
      kind: "other",
      name: `application-${randomSuffix()}`,
      labels,
      annotations: {
        ...common,
        ...shared,
        "replicated.com/backup-type": "app",
        "replicated.com/restore-spec": JSON.stringify(restoreSpec),
        ...options.annotations,
      },
    });
    return [infra, app];
  }

  /** Creates, changes or (with undefined) removes ConfigMap kotsadm-velero-namespace. */
  setVeleroNamespaceHint(veleroNamespace: string | undefined): void {
    setVeleroNamespaceHint(this.deps.state, this.deps.registry, this.deps.kotsadmNamespace, veleroNamespace);
  }

  /** Sets the kotsadm pod's phase (port-forward needs Running). */
  setKotsadmPodPhase(phase: "Running" | "Pending" | "Failed"): void {
    const type = this.deps.registry.byResource("", "pods");
    const pod = this.deps.state
      .list(type, this.deps.kotsadmNamespace)
      .find((p) => p.metadata.labels?.app === "kotsadm");
    if (!pod) return;
    this.deps.state.mutate(type, this.deps.kotsadmNamespace, pod.metadata.name!, (p) => {
      p.status = {
        ...p.status,
        phase,
        conditions: [{ type: "Ready", status: phase === "Running" ? "True" : "False" }],
      };
    });
  }

  private buildBackup(options: PreloadBackup): KubeObject {
    const kind = options.kind ?? "instance";
    const context = {
      ...this.deps.kotsadm.backupContext(options.trigger ?? "manual"),
      requestedAt: this.requestedAt(options),
    };
    let backup: KubeObject;
    if (kind === "instance") {
      backup = instanceBackup({
        ...context,
        kotsadmNamespace: options.kotsadmNamespace ?? this.deps.kotsadmNamespace,
        ...(options.ttl ? { ttl: options.ttl } : {}),
      });
    } else if (kind === "app") {
      const app = this.deps.kotsadm.apps.find(
        (a) => a.slug === (options.appSlug ?? this.deps.kotsadm.apps[0]?.slug),
      );
      if (!app) throw new Error(`scenario: no app with slug ${options.appSlug}`);
      backup = appBackup({ ...context, ...(options.ttl ? { ttl: options.ttl } : {}) }, app);
    } else {
      backup = {
        apiVersion: "velero.io/v1",
        kind: "Backup",
        metadata: { name: "", generateName: "nightly-" },
        spec: { includedNamespaces: ["*"], storageLocation: "default", ttl: options.ttl ?? "720h0m0s" },
      };
    }
    backup.metadata.name = options.name ?? "";
    if (!options.name) backup.metadata.generateName ??= "backup-";
    else delete backup.metadata.generateName;
    delete backup.metadata.namespace;
    backup.metadata.labels = { ...backup.metadata.labels, ...options.labels };
    backup.metadata.annotations = { ...backup.metadata.annotations, ...options.annotations };
    const phase = options.phase ?? "Completed";
    if (phase !== "New") {
      backup.metadata.labels["velero.io/storage-location"] = backup.spec.storageLocation ?? "default";
      backup.status = this.statusFor(phase, options, backup.spec.ttl);
    }
    return backup;
  }

  private statusFor(phase: BackupPhase, options: PreloadBackup, ttl: string): Record<string, unknown> {
    const { clock } = this.deps;
    const start = options.startedAt?.getTime() ?? clock.nowMs();
    const status: Record<string, unknown> = {
      phase,
      version: 1,
      formatVersion: "1.1.0",
      expiration: clock.iso(start + ttlMs(ttl)),
    };
    if (phase === "FailedValidation")
      return { ...status, validationErrors: ["simulated validation failure"] };
    if (phase === "Queued" || phase === "New") return { phase, queuePosition: 1 };
    status.startTimestamp = clock.iso(start);
    status.progress = { totalItems: 12, itemsBackedUp: TERMINAL.has(phase) ? 12 : 5 };
    if (options.errors !== undefined || phase === "PartiallyFailed" || phase === "Failed")
      status.errors = options.errors ?? 1;
    if (options.warnings !== undefined) status.warnings = options.warnings;
    if (TERMINAL.has(phase)) status.completionTimestamp = clock.iso(start + (options.durationMs ?? 60_000));
    if (phase === "Failed") status.failureReason = "simulated failure";
    return status;
  }

  private instanceAnnotations(options: PreloadBackup): Record<string, string> {
    const context = {
      ...this.deps.kotsadm.backupContext(options.trigger ?? "manual"),
      requestedAt: this.requestedAt(options),
    };
    return {
      ...(instanceBackup({
        ...context,
        kotsadmNamespace: options.kotsadmNamespace ?? this.deps.kotsadmNamespace,
      }).metadata.annotations as Record<string, string>),
      "kots.io/embedded-cluster": "true",
    };
  }

  private requestedAt(options: PreloadBackup): string {
    return this.deps.clock.iso(options.startedAt?.getTime() ?? this.deps.clock.nowMs());
  }

  private backupType() {
    return this.deps.registry.byResource("velero.io", "backups");
  }
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join("");
}

// Backup phases as Velero v1.18 moves them (backup_queue_controller.go, backup_controller.go,
// backup_finalizer_controller.go), one step per reconcile so watchers see every phase:
//   New → FailedValidation
//   New → Queued → ReadyToStart → InProgress → [WaitingForPluginOperations[PartiallyFailed]]
//       → Finalizing[PartiallyFailed] → Completed | PartiallyFailed,   or InProgress → Failed.
// `--concurrent-backups` is 1: while one backup is ReadyToStart/InProgress, the rest stay Queued.
import type { ObjectStore } from "@kots-backup/core";
import type { SandboxClock } from "../clock.ts";
import type { ClusterState } from "../k8s/cluster-state.ts";
import type { KubeObject } from "../k8s/objects.ts";
import type { ResourceRegistry, ResourceType } from "../k8s/resources.ts";
import { selectItems, writeBackupArtifacts } from "./artifacts.ts";
import { type BackupScript, type ResolvedScript, resolveScript } from "./script.ts";

const RUNNING = new Set(["ReadyToStart", "InProgress"]);
const DEFAULT_TTL_MS = 720 * 3600 * 1000;

export interface BackupControllerOptions {
  state: ClusterState;
  registry: ResourceRegistry;
  clock: SandboxClock;
  namespace: string;
  store: ObjectStore;
}

export class BackupController {
  /** Applied to backups without a named or queued script. */
  defaultScript: BackupScript = {};
  private readonly named = new Map<string, BackupScript>();
  private readonly queued: BackupScript[] = [];
  private readonly assigned = new Map<string, ResolvedScript>();
  /** Sandbox-clock ms at which each backup entered its current timed phase. */
  private readonly phaseSince = new Map<string, number>();
  private readonly options: BackupControllerOptions;
  private readonly type: ResourceType;

  constructor(options: BackupControllerOptions) {
    this.options = options;
    this.type = options.registry.byResource("velero.io", "backups");
  }

  script(name: string, script: BackupScript): void {
    this.named.set(name, script);
  }

  /** Scripts for the next backups Velero sees, in creation order (their names are generated). */
  scriptNext(...scripts: BackupScript[]): void {
    this.queued.push(...scripts);
  }

  nextDeadline(): number | undefined {
    const deadlines: number[] = [];
    for (const backup of this.backups()) {
      const deadline = this.deadlineOf(backup);
      if (deadline !== undefined) deadlines.push(deadline);
    }
    return deadlines.length > 0 ? Math.min(...deadlines) : undefined;
  }

  /** One step for every backup whose next step is due. */
  async reconcile(): Promise<boolean> {
    let changed = false;
    const backups = this.backups();
    for (const backup of backups) {
      const step = await this.step(backup, backups);
      changed = step || changed;
    }
    return changed;
  }

  private async step(backup: KubeObject, all: KubeObject[]): Promise<boolean> {
    const name = backup.metadata.name!;
    const phase: string = backup.status?.phase ?? "New";
    const now = this.options.clock.nowMs();
    switch (phase) {
      case "New":
        return this.admit(backup);
      case "Queued": {
        const queue = all.filter((b) => b.status?.phase === "Queued");
        const position = queue.indexOf(backup) + 1;
        if (position === 1 && !all.some((b) => RUNNING.has(b.status?.phase))) {
          this.patchStatus(name, (s) => {
            s.phase = "ReadyToStart";
            delete s.queuePosition;
          });
          return true;
        }
        if (backup.status?.queuePosition === position) return false;
        this.patchStatus(name, (s) => {
          s.queuePosition = position;
        });
        return true;
      }
      case "ReadyToStart":
        this.start(backup);
        return true;
      default: {
        const deadline = this.deadlineOf(backup);
        if (deadline === undefined || now < deadline) return false;
        await this.advancePhase(backup, phase);
        return true;
      }
    }
  }

  /** New: pick the script, validate like prepareBackupRequest, then queue. */
  private admit(backup: KubeObject): boolean {
    const name = backup.metadata.name!;
    const script = this.scriptFor(name);
    const errors = this.validationErrors(backup);
    if (script.outcome === "FailedValidation") errors.push(...script.validationErrors);
    if (errors.length > 0) {
      this.patchStatus(name, (s) => {
        s.phase = "FailedValidation";
        s.validationErrors = errors;
        s.formatVersion = "1.1.0";
        s.version = 1;
        s.expiration = this.options.clock.iso(this.options.clock.nowMs() + ttlMs(backup.spec?.ttl));
      });
      return true;
    }
    const queuePosition = this.backups().filter((b) => b.status?.phase === "Queued").length + 1;
    this.patchStatus(name, (s) => {
      s.phase = "Queued";
      s.queuePosition = queuePosition;
    });
    return true;
  }

  private validationErrors(backup: KubeObject): string[] {
    const errors: string[] = [];
    if (backup.spec?.labelSelector && backup.spec?.orLabelSelectors) {
      errors.push(
        "encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified",
      );
    }
    const location = backup.spec?.storageLocation || "default";
    const bsl = this.options.state.find(
      this.options.registry.byResource("velero.io", "backupstoragelocations"),
      this.options.namespace,
      location,
    );
    if (!bsl) {
      errors.push(
        `an existing backup storage location was not specified at backup creation time and the server default '${location}' does not exist. Please address this issue (see \`velero backup-location -h\` for options) and create a new backup. Error: backupstoragelocations.velero.io "${location}" not found`,
      );
    } else if (bsl.status?.phase !== "Available") {
      errors.push(
        `backup can't be created because BackupStorageLocation ${location} is in Unavailable status.`,
      );
    }
    return errors;
  }

  /** ReadyToStart → InProgress: the fields prepareBackupRequest and the backup controller set. */
  private start(backup: KubeObject): void {
    const { clock, state, registry } = this.options;
    const name = backup.metadata.name!;
    const items = selectItems(backup, state, registry);
    const location = backup.spec?.storageLocation || "default";
    this.phaseSince.set(name, clock.nowMs());
    this.options.state.mutate(this.type, this.options.namespace, name, (b) => {
      b.metadata.labels = { ...b.metadata.labels, "velero.io/storage-location": location };
      b.metadata.annotations = {
        ...b.metadata.annotations,
        "velero.io/source-cluster-k8s-gitversion": "v1.35.0-sandbox",
        "velero.io/source-cluster-k8s-major-version": "1",
        "velero.io/source-cluster-k8s-minor-version": "35",
        "velero.io/resource-timeout": "10m0s",
      };
      b.status = {
        ...b.status,
        phase: "InProgress",
        version: 1,
        formatVersion: "1.1.0",
        startTimestamp: clock.iso(),
        expiration: clock.iso(clock.nowMs() + ttlMs(b.spec?.ttl)),
        progress: { totalItems: items.namespaced.length + items.cluster.length, itemsBackedUp: 0 },
        hookStatus: {},
      };
    });
  }

  private async advancePhase(backup: KubeObject, phase: string): Promise<void> {
    const name = backup.metadata.name!;
    const script = this.scriptFor(name);
    const { clock } = this.options;
    const partial = script.outcome === "PartiallyFailed";
    this.phaseSince.set(name, clock.nowMs());
    if (phase === "InProgress") {
      if (script.outcome === "Failed") {
        await this.upload(backup, script, true, "Failed");
        this.patchStatus(name, (s) => {
          s.phase = "Failed";
          s.failureReason = script.failureReason;
          s.errors = script.errors;
          s.warnings = script.warnings;
          s.completionTimestamp = clock.iso();
        });
        return;
      }
      const next = script.pluginOperationsMs > 0 ? "WaitingForPluginOperations" : "Finalizing";
      this.patchStatus(name, (s) => {
        s.phase = partial ? `${next}PartiallyFailed` : next;
        s.errors = script.errors;
        s.warnings = script.warnings;
        s.progress = { totalItems: s.progress?.totalItems ?? 0, itemsBackedUp: s.progress?.totalItems ?? 0 };
      });
      return;
    }
    if (phase.startsWith("WaitingForPluginOperations")) {
      this.patchStatus(name, (s) => {
        s.phase = partial ? "FinalizingPartiallyFailed" : "Finalizing";
      });
      return;
    }
    // Finalizing: upload everything, then the terminal phase, so a client that sees Completed finds the data.
    const terminal = partial ? "PartiallyFailed" : "Completed";
    await this.upload(backup, script, false, terminal);
    this.patchStatus(name, (s) => {
      s.phase = terminal;
      s.completionTimestamp = clock.iso();
    });
  }

  private async upload(
    backup: KubeObject,
    script: ResolvedScript,
    failed: boolean,
    terminal: string,
  ): Promise<void> {
    const { clock, state, registry, store } = this.options;
    const final = structuredClone(backup);
    final.status = { ...final.status, phase: terminal, completionTimestamp: clock.iso() };
    await writeBackupArtifacts({
      store,
      backup: final,
      items: selectItems(backup, state, registry),
      clock,
      errors: script.errors,
      warnings: script.warnings,
      failed,
    });
  }

  private deadlineOf(backup: KubeObject): number | undefined {
    const name = backup.metadata.name!;
    const since = this.phaseSince.get(name);
    if (since === undefined) return undefined;
    const script = this.scriptFor(name);
    const phase: string = backup.status?.phase ?? "New";
    if (phase === "InProgress") return script.outcome === "Stuck" ? undefined : since + script.durationMs;
    if (phase.startsWith("WaitingForPluginOperations")) return since + script.pluginOperationsMs;
    if (phase.startsWith("Finalizing")) return since + script.finalizingMs;
    return undefined;
  }

  private scriptFor(name: string): ResolvedScript {
    let resolved = this.assigned.get(name);
    if (!resolved) {
      resolved = resolveScript(this.named.get(name) ?? this.queued.shift() ?? this.defaultScript);
      this.assigned.set(name, resolved);
    }
    return resolved;
  }

  // biome-ignore lint/suspicious/noExplicitAny: Backup status is unstructured JSON, validated by the CRD schema on write.
  private patchStatus(name: string, change: (status: Record<string, any>) => void): void {
    this.options.state.mutate(this.type, this.options.namespace, name, (b) => {
      b.status ??= {};
      change(b.status);
    });
  }

  /** Backups in creation order (Velero's queue order). */
  private backups(): KubeObject[] {
    const { state } = this.options;
    return state
      .list(this.type, this.options.namespace)
      .sort((a, b) => state.creationOrder(a) - state.creationOrder(b));
  }
}

/** Go duration (`720h0m0s`, `1h30m`, `45m`) → ms; 0 or missing → Velero's default 720h. */
export function ttlMs(ttl: string | undefined): number {
  if (!ttl) return DEFAULT_TTL_MS;
  let total = 0;
  for (const [, amount, unit] of ttl.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) {
    const factor = unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : unit === "s" ? 1000 : 1;
    total += Number(amount) * factor;
  }
  return total > 0 ? total : DEFAULT_TTL_MS;
}

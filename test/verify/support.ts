// Shared set-up for the verify tests: an in-memory cluster (the KotsCluster port over a list of
// Velero Backups), in-memory stores, a recording delivery port, and builders for manifests.

import { StateStore } from "@kots-backup/adapters/state/state-store";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import type { ClusterApp, KotsBackupEvent, KotsCluster, ObjectStore } from "@kots-backup/core";
import { type ExportManifest, manifestKey } from "@kots-backup/core/export-layout";
import type { CheckSchedule } from "@kots-backup/core/freshness";
import { aBackup } from "@kots-backup/core/testing";
import type { DeliverPort, DeliveryOutcome, VerifyDeps } from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import type { VeleroBackup } from "@kots-backup/core/velero";

export const CLUSTER = "prod";
export const NAMESPACE = "default";
export const APP = { id: "app-1", slug: "gitguardian" } as const;

/** A KotsCluster whose Backups, reachability and app list the test controls. */
export class FakeCluster
  implements Pick<KotsCluster, "name" | "kotsadmNamespace" | "listBackups" | "listApps">
{
  readonly name = CLUSTER;
  readonly kotsadmNamespace = NAMESPACE;
  backups: VeleroBackup[] = [];
  reachable = true;
  bslPhase: string | undefined = "Available";
  apps: ClusterApp[] = [{ ...APP }];

  async listBackups(): Promise<VeleroBackup[]> {
    if (!this.reachable) {
      const error = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:6443"), {
        exitCode: 3,
        code: "cluster-unreachable",
      });
      throw error;
    }
    return this.backups.map((b) => structuredClone(b));
  }

  async listApps(): Promise<ClusterApp[]> {
    return this.apps.map((a) => ({ ...a }));
  }

  /** Adds a full (instance) backup requested at `at`, running `minutes`, ending in `phase`. */
  addFull(name: string, at: Date, phase = "Completed", minutes = 10): VeleroBackup {
    const b = aBackup(name).instance(NAMESPACE).requestedAt(at).startedAt(at).phase(phase);
    if (phase === "Completed" || phase.includes("Fail"))
      b.completedAt(new Date(at.getTime() + minutes * 60_000));
    const built = b.build();
    this.backups.push(built);
    return built;
  }

  addPartial(name: string, at: Date, phase = "Completed", minutes = 2): VeleroBackup {
    const b = aBackup(name).app(APP.id).requestedAt(at).startedAt(at).phase(phase);
    if (phase === "Completed" || phase.includes("Fail"))
      b.completedAt(new Date(at.getTime() + minutes * 60_000));
    const built = b.build();
    this.backups.push(built);
    return built;
  }

  setPhase(name: string, phase: string, completedAt?: Date): void {
    const b = this.backups.find((x) => x.metadata.name === name);
    if (!b) throw new Error(`no backup ${name}`);
    b.status = {
      ...b.status,
      phase,
      ...(completedAt ? { completionTimestamp: completedAt.toISOString() } : {}),
    };
  }
}

export function manifestFor(backup: VeleroBackup, exportedAt: Date, bytes = 1234): ExportManifest {
  const completed = backup.status?.completionTimestamp;
  const partial = backup.metadata.annotations?.["kots.io/app-id"] !== undefined;
  return {
    formatVersion: 1,
    backup: backup.metadata.name,
    type: partial ? "partial" : "full",
    // As the engine writes it: the app's slug (this harness has one app).
    ...(partial ? { app: APP.slug } : {}),
    scope: "manifests",
    volumeData: "absent",
    source: { cluster: CLUSTER },
    phase: backup.status?.phase ?? "Completed",
    partiallyFailed: false,
    ...(completed ? { completedAt: completed } : {}),
    exportStartedAt: exportedAt.toISOString(),
    exportedAt: exportedAt.toISOString(),
    objects: [
      {
        key: `velero/backups/${backup.metadata.name}/velero-backup.json`,
        size: bytes,
        sha256: "a".repeat(64),
      },
    ],
    totals: { objects: 1, bytes },
  };
}

export async function writeManifest(
  store: ObjectStore,
  backup: VeleroBackup,
  exportedAt: Date,
  bytes = 1234,
): Promise<void> {
  await store.put(manifestKey(backup.metadata.name), JSON.stringify(manifestFor(backup, exportedAt, bytes)));
}

export function schedule(fields: Partial<CheckSchedule> & { name: string; cron: string }): CheckSchedule {
  return {
    type: "full",
    timezone: "UTC",
    grace: 3_600_000,
    maxDuration: 4 * 3_600_000,
    export: true,
    exportGrace: 2 * 3_600_000,
    paused: false,
    ...fields,
  };
}

/** A delivery port that records every event and answers per channel (ok unless told to fail). */
export class RecordingDelivery {
  readonly sent: { channel: string; event: KotsBackupEvent }[] = [];
  readonly failing = new Set<string>();
  /** Per-call failure script for flaky channels: consulted (in call order) when set. */
  flaky: ((channel: string) => boolean) | undefined;
  readonly channels: string[];
  constructor(channels: string[] = ["pagerduty", "slack"]) {
    this.channels = channels;
  }

  readonly port: DeliverPort = async (event, only) => {
    const outcomes: DeliveryOutcome[] = [];
    for (const channel of this.channels.filter((c) => !only || only.includes(c))) {
      if (this.failing.has(channel) || this.flaky?.(channel)) {
        outcomes.push({
          channel,
          ok: false,
          error: "503 Service Unavailable (gave up after 4 attempts)",
          failure: "server-error",
          status: 503,
        });
      } else {
        this.sent.push({ channel, event });
        outcomes.push({ channel, ok: true });
      }
    }
    return outcomes;
  };

  /** Detail types sent to one channel, in order, as `Check Down:<schedule>`. */
  to(channel: string): string[] {
    return this.sent
      .filter((s) => s.channel === channel)
      .map((s) => `${s.event.detailType}:${s.event.detail.schedule}`);
  }
}

export interface Harness {
  cluster: FakeCluster;
  destination: MemoryStore;
  state: StateStore;
  delivery: RecordingDelivery;
  deps(now: Date, overrides?: Partial<VerifyDeps>): VerifyDeps;
}

export function harness(store: ObjectStore = new MemoryStore("dest")): Harness {
  const cluster = new FakeCluster();
  const destination = store as MemoryStore;
  const state = new StateStore(store);
  const records = checkRecordStore(store);
  const delivery = new RecordingDelivery();
  const manifestCache = new Map();
  return {
    cluster,
    destination,
    state,
    delivery,
    deps: (now, overrides = {}) => ({
      cluster,
      bslPhase: async () => cluster.bslPhase,
      destination: store,
      claims: () => state.listClaims(),
      silences: () => state.listSilences(),
      manifestCache,
      records,
      deliver: delivery.port,
      channels: delivery.channels,
      now,
      ...overrides,
    }),
  };
}

export const at = (text: string) => new Date(text);
export const addMinutes = (d: Date, minutes: number) => new Date(d.getTime() + minutes * 60_000);

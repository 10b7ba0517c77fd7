// Builders for tests (here and in other packages): `aBackup("instance-abcde").phase("Failed").requestedAt(t)`.
// Not exported from index.ts; import "@kots-backup/core/testing".
import type { BackupSummary } from "./backups.ts";
import { kotsStatusOf, type VeleroBackup } from "./velero.ts";

const iso = (t: Date | string) => (typeof t === "string" ? t : t.toISOString());

export class VeleroBackupBuilder {
  readonly backup: VeleroBackup;

  constructor(name: string) {
    this.backup = {
      apiVersion: "velero.io/v1",
      kind: "Backup",
      metadata: { name, annotations: {}, labels: {} },
      status: {},
    };
  }

  /** A legacy instance backup of the kotsadm in `namespace`. */
  instance(namespace = "default"): this {
    return this.annotate({ "kots.io/instance": "true", "kots.io/kotsadm-deploy-namespace": namespace });
  }

  /** One Backup of an improved-DR pair named `pair` (count 2 by default). */
  drPair(pair: string, kind: "infra" | "app", namespace = "default", count = 2): this {
    this.backup.metadata.labels = { ...this.backup.metadata.labels, "replicated.com/backup-name": pair };
    return this.annotate({
      "replicated.com/disaster-recovery-version": "1",
      "replicated.com/backup-type": kind,
      "replicated.com/backup-count": String(count),
      "kots.io/kotsadm-deploy-namespace": namespace,
    });
  }

  app(appId: string): this {
    return this.annotate({ "kots.io/app-id": appId, "kots.io/app-sequence": "1" });
  }

  scheduled(): this {
    return this.annotate({ "kots.io/snapshot-trigger": "schedule" });
  }

  requestedAt(t: Date | string): this {
    this.backup.metadata.creationTimestamp = iso(t);
    return this.annotate({ "kots.io/snapshot-requested": iso(t) });
  }

  phase(phase: string): this {
    this.backup.status = { ...this.backup.status, phase };
    return this;
  }

  startedAt(t: Date | string): this {
    this.backup.status = { ...this.backup.status, startTimestamp: iso(t) };
    return this;
  }

  completedAt(t: Date | string): this {
    this.backup.status = { ...this.backup.status, completionTimestamp: iso(t) };
    return this;
  }

  expiresAt(t: Date | string): this {
    this.backup.status = { ...this.backup.status, expiration: iso(t) };
    return this;
  }

  counts(errors: number, warnings: number): this {
    this.backup.status = { ...this.backup.status, errors, warnings };
    return this;
  }

  annotate(annotations: Record<string, string>): this {
    this.backup.metadata.annotations = { ...this.backup.metadata.annotations, ...annotations };
    return this;
  }

  build(): VeleroBackup {
    return structuredClone(this.backup);
  }
}

export function aBackup(name: string): VeleroBackupBuilder {
  return new VeleroBackupBuilder(name);
}

/** An `ls` entry for freshness tests: a full, manual backup unless overridden. */
export function aSummary(
  name: string,
  fields: Partial<BackupSummary> & { phase?: string } = {},
): BackupSummary {
  const phase = fields.phase ?? "Completed";
  return {
    name,
    type: "full",
    trigger: "manual",
    errors: 0,
    warnings: 0,
    ...fields,
    phase,
    status: fields.status ?? kotsStatusOf(phase),
  };
}

// runBackup against the sandbox: kotsadm over a real port-forward, Velero Backups over the real API.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect } from "@kots-backup/adapters/kube/connection";
import { isKotsBackupError } from "@kots-backup/core";
import { type BackupRunResult, runBackup } from "@kots-backup/core/usecases/index";
import { phaseOf } from "@kots-backup/core/velero";
import { afterEach, describe, expect, it } from "vitest";
import {
  backupsIn,
  driveUntilSettled,
  dropFirstResponse,
  eventually,
  fastRetry,
  openTestCluster,
  type TestCluster,
} from "./support.ts";

const RBAC = readFileSync(join(import.meta.dirname, "..", "..", "deploy", "rbac.yaml"), "utf8");

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

function kotsadmPosts(t: TestCluster): string[] {
  return t.sandbox.kotsadm.requests.filter((r) => r.method === "POST").map((r) => r.path);
}

async function caught(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; exitCode?: number; fix?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; exitCode?: number };
  }
  throw new Error("expected a failure");
}

describe("runBackup (full) through the port-forward", () => {
  it("follows a backup through every phase from Queued to Completed and emits Started then Completed", async () => {
    env = await openTestCluster();
    const t = env;
    // Another Velero user's backup holds Velero's single slot, so ours waits in Queued.
    const blocker = await t.sandbox.scenario.addBackup({
      kind: "other",
      name: "nightly-blocker",
      phase: "InProgress",
    });
    t.sandbox.velero.scriptNext({ durationMs: 30_000, pluginOperationsMs: 20_000, finalizingMs: 10_000 });
    const phases: string[] = [];
    const run = runBackup(
      { type: "full", trigger: "manual", wait: true, timeoutMs: 600_000 },
      { cluster: t.cluster, emit: t.emit, now: t.now, onPhase: (b) => phases.push(phaseOf(b)) },
    );
    await eventually(() => phases.includes("Queued"), "the backup to be seen Queued");
    t.sandbox.state.mutate(
      t.sandbox.registry.byResource("velero.io", "backups"),
      "velero",
      blocker.metadata.name!,
      (b) => {
        b.status = { ...b.status, phase: "Completed", completionTimestamp: t.sandbox.clock.iso() };
      },
    );
    const result = (await driveUntilSettled(t.sandbox, run)) as BackupRunResult;

    const distinct = phases.filter((p, i) => p !== phases[i - 1]);
    expect(distinct.filter((p) => p !== "New")).toEqual([
      "Queued",
      "ReadyToStart",
      "InProgress",
      "WaitingForPluginOperations",
      "Finalizing",
      "Completed",
    ]);
    expect(result).toMatchObject({
      outcome: "started",
      type: "full",
      phase: "Completed",
      status: "Completed",
      trigger: "manual",
      deduplicated: false,
    });
    expect(result.name).toMatch(/^instance-/);
    expect(result.completedAt).toBeDefined();
    expect(kotsadmPosts(t)).toEqual(["/api/v1/snapshot/backup"]);
    expect(t.events.map((e) => e.detailType)).toEqual(["Backup Started", "Backup Completed"]);
    expect(t.events[0]?.detail).toMatchObject({
      cluster: "test",
      backup: result.name,
      dedupKey: "kots-backup:test",
    });
    // kotsadm made it (with its annotations), not kots-backup.
    const created = backupsIn(t.sandbox).find((b) => b.metadata.name === result.name);
    expect(created?.metadata.annotations?.["kots.io/apps-sequences"]).toBeDefined();
  });

  it("keeps following through FinalizingPartiallyFailed and reports PartiallyFailed as a failed backup", async () => {
    env = await openTestCluster();
    const t = env;
    t.sandbox.velero.scriptNext({
      outcome: "PartiallyFailed",
      pluginOperationsMs: 10_000,
      finalizingMs: 10_000,
      errors: 3,
    });
    const phases: string[] = [];
    const result = (await driveUntilSettled(
      t.sandbox,
      runBackup(
        { type: "full", trigger: "manual", timeoutMs: 600_000 },
        { cluster: t.cluster, emit: t.emit, now: t.now, onPhase: (b) => phases.push(phaseOf(b)) },
      ),
    )) as BackupRunResult;
    expect(phases).toContain("FinalizingPartiallyFailed");
    expect(result).toMatchObject({ phase: "PartiallyFailed", status: "Failed", errors: 3 });
    expect(t.events.map((e) => e.detailType)).toEqual(["Backup Started", "Backup Failed"]);
    expect(t.events[1]?.detail.reasons).toEqual(["failed"]);
  });

  it("with wait: false returns once kotsadm accepted and the Backup exists", async () => {
    env = await openTestCluster();
    const t = env;
    const result = (await runBackup(
      { type: "full", trigger: "manual", wait: false },
      { cluster: t.cluster, emit: t.emit, now: t.now },
    )) as BackupRunResult;
    expect(result.status).toBe("InProgress");
    expect(backupsIn(t.sandbox).map((b) => b.metadata.name)).toEqual([result.name]);
    expect(t.events.map((e) => e.detailType)).toEqual(["Backup Started"]);
  });

  it("gives up following after the timeout with exit 3, leaving the backup running", async () => {
    env = await openTestCluster();
    const t = env;
    t.sandbox.velero.scriptNext({ outcome: "Stuck" });
    const error = await caught(
      runBackup(
        { type: "full", trigger: "manual", timeoutMs: 300 },
        { cluster: t.cluster, emit: t.emit, now: t.now },
      ),
    );
    expect(error).toMatchObject({ code: "timeout", exitCode: 3 });
    expect(error.message).toMatch(/did not finish within/);
  });
});

describe("following without watch permission", () => {
  it("falls back to polling when watching Backups is forbidden", async () => {
    env = await openTestCluster();
    const t = env;
    t.sandbox.setRbac(
      RBAC.replace(
        'resources: ["backups"]\n    verbs: ["get", "list", "watch"]',
        'resources: ["backups"]\n    verbs: ["get", "list"]',
      ),
    );
    const result = (await driveUntilSettled(
      t.sandbox,
      runBackup(
        { type: "full", trigger: "manual", timeoutMs: 600_000 },
        { cluster: t.cluster, emit: t.emit, now: t.now },
      ),
    )) as BackupRunResult;
    expect(result.phase).toBe("Completed");
  });
});

describe("runBackup (partial)", () => {
  it("finds the app Backup by kots.io/app-id and request time (kotsadm's answer has no name)", async () => {
    env = await openTestCluster({ apps: [{ slug: "my-app" }, { slug: "other-app" }] });
    const t = env;
    // Older backups of the same app must not be mistaken for the new one.
    await t.sandbox.scenario.addBackup({
      kind: "app",
      appSlug: "my-app",
      startedAt: new Date(t.now().getTime() - 3_600_000),
    });
    await t.sandbox.clock.advance(60_000);
    const result = (await runBackup(
      { type: "partial", app: "my-app", trigger: "manual", wait: false },
      { cluster: t.cluster, emit: t.emit, now: t.now },
    )) as BackupRunResult;
    const app = t.sandbox.kotsadm.apps.find((a) => a.slug === "my-app")!;
    const created = backupsIn(t.sandbox).find((b) => b.metadata.name === result.name)!;
    expect(result).toMatchObject({ type: "partial", app: "my-app", outcome: "started" });
    expect(created.metadata.annotations?.["kots.io/app-id"]).toBe(app.id);
    expect(Date.parse(created.metadata.annotations?.["kots.io/snapshot-requested"] ?? "")).toBe(
      Date.parse(result.requestedAt),
    );
    expect(kotsadmPosts(t)).toEqual(["/api/v1/app/my-app/snapshot/backup"]);
  });
});

describe("refusals", () => {
  it("maps kotsadm's 409 kotsadmRequiresVeleroAccess to exit 3 with the ensure-permissions fix", async () => {
    env = await openTestCluster();
    env.sandbox.kotsadm.refuseVeleroAccess = true;
    const error = await caught(
      runBackup({ type: "full", trigger: "manual" }, { cluster: env.cluster, emit: env.emit, now: env.now }),
    );
    expect(error).toMatchObject({ code: "kotsadm-requires-velero-access", exitCode: 3 });
    expect(error.fix).toContain("kubectl kots velero ensure-permissions --namespace default");
    expect(backupsIn(env.sandbox)).toEqual([]);
    expect(env.events).toEqual([]);
  });

  it("maps the 403 for a partial backup on an embedded cluster to exit 3", async () => {
    env = await openTestCluster();
    env.sandbox.kotsadm.embeddedCluster = true;
    const error = await caught(
      runBackup(
        { type: "partial", app: "my-app", trigger: "manual" },
        { cluster: env.cluster, emit: env.emit, now: env.now },
      ),
    );
    expect(error).toMatchObject({ code: "partial-backup-forbidden", exitCode: 3 });
    expect(error.fix).toContain("--type full");
  });

  it("refuses an unknown app slug with exit 2 before asking for any backup", async () => {
    env = await openTestCluster();
    const error = await caught(
      runBackup(
        { type: "partial", app: "nope", trigger: "manual" },
        { cluster: env.cluster, emit: env.emit, now: env.now },
      ),
    );
    expect(error).toMatchObject({ code: "unknown-app", exitCode: 2, field: "--app" });
    expect(error.message).toContain("my-app");
    expect(kotsadmPosts(env)).toEqual([]);
  });

  it("names a missing Kubernetes permission as verb resource in namespace", async () => {
    env = await openTestCluster();
    env.sandbox.setRbac(
      RBAC.replace(
        / {2}# WebSocket port-forward[^\n]*\n {2}- apiGroups: \[""\]\n {4}resources: \["pods\/portforward"\]\n {4}verbs: \["get", "create"\]\n/,
        "",
      ),
    );
    const error = await caught(
      runBackup({ type: "full", trigger: "manual" }, { cluster: env.cluster, emit: env.emit, now: env.now }),
    );
    expect(error).toMatchObject({ code: "kube-forbidden", exitCode: 3 });
    expect(error.message).toMatch(
      /^missing Kubernetes permission: get, create pods\/portforward in namespace default \(port-forward to \S+\)$/,
    );
    expect(error.fix).toContain("deploy/rbac.yaml");

    env.sandbox.setRbac(
      RBAC.replace(
        'resources: ["backups"]\n    verbs: ["get", "list", "watch"]',
        'resources: ["backups"]\n    verbs: ["get", "watch"]',
      ),
    );
    const listError = await caught(env.cluster.listBackups());
    expect(listError.message).toBe(
      "missing Kubernetes permission: list backups.velero.io in namespace velero",
    );
  });

  it("says the kotsadm pod is not running, and where it looked", async () => {
    env = await openTestCluster();
    env.sandbox.scenario.setKotsadmPodPhase("Pending");
    const error = await caught(
      runBackup({ type: "full", trigger: "manual" }, { cluster: env.cluster, emit: env.emit, now: env.now }),
    );
    expect(error).toMatchObject({ code: "kotsadm-not-running", exitCode: 3 });
    expect(error.message).toContain("app=kotsadm in namespace default");
  });
});

describe("transient faults", () => {
  it("survives 429 (Retry-After), 500 and connection resets on the API and on kotsadm", async () => {
    env = await openTestCluster();
    const t = env;
    const { faults } = t.sandbox;
    faults.add({
      target: "api",
      method: "GET",
      path: "/apis/velero.io/v1/namespaces/velero/backups",
      status: 429,
      retryAfterSeconds: 1,
      times: 1,
    });
    faults.add({
      target: "api",
      method: "GET",
      path: "/apis/velero.io/v1/namespaces/velero/backups",
      status: 500,
      times: 1,
    });
    faults.add({
      target: "api",
      method: "GET",
      path: "/api/v1/namespaces/default/pods",
      drop: true,
      times: 1,
    });
    faults.add({
      target: "api",
      method: "GET",
      path: "/api/v1/namespaces/default/secrets/kotsadm-authstring",
      status: 503,
      times: 2,
    });
    faults.add({ target: "kotsadm", method: "GET", path: "/api/v1/apps", status: 502, times: 1 });
    faults.add({ target: "kotsadm", method: "GET", path: "/api/v1/apps", drop: true, times: 1 });
    const result = (await driveUntilSettled(
      t.sandbox,
      runBackup(
        { type: "partial", app: "my-app", trigger: "manual", timeoutMs: 600_000 },
        { cluster: t.cluster, emit: t.emit, now: t.now },
      ),
    )) as BackupRunResult;
    expect(result.phase).toBe("Completed");
    expect(faults.hits.length).toBe(7);
    expect(kotsadmPosts(t)).toEqual(["/api/v1/app/my-app/snapshot/backup"]);
    expect(backupsIn(t.sandbox)).toHaveLength(1);
  });

  it("does not retry a 4xx other than 429", async () => {
    env = await openTestCluster();
    env.sandbox.faults.add({
      target: "api",
      method: "GET",
      path: "/apis/velero.io/v1/namespaces/velero/backups",
      status: 400,
      times: 1,
    });
    const error = await caught(env.cluster.listBackups());
    expect(error).toMatchObject({ code: "kube-error", exitCode: 3 });
    expect(env.sandbox.faults.hits).toHaveLength(1);
  });
});

describe("the backup request is never blindly repeated", () => {
  it("a response dropped after kotsadm created the backup does not lead to a second one", async () => {
    const sandboxEnv = await openTestCluster();
    env = sandboxEnv;
    const connection = connect({ kind: "kubeconfig", file: sandboxEnv.sandbox.kubeconfigPath });
    const lossy = dropFirstResponse(sandboxEnv.sandbox, connection, /^POST \/api\/v1\/snapshot\/backup /);
    const cluster = new KubeKotsCluster(await connection, {
      name: "test",
      retry: fastRetry,
      kotsadmEndpoint: lossy.endpoint,
    });
    try {
      const logs: string[] = [];
      const result = (await runBackup(
        { type: "full", trigger: "manual", wait: false },
        { cluster, emit: sandboxEnv.emit, now: sandboxEnv.now, log: (_level, message) => logs.push(message) },
      )) as BackupRunResult;
      expect(lossy.dropped()).toBe(1);
      expect(sandboxEnv.sandbox.kotsadm.backupRequestCount()).toBe(1);
      expect(backupsIn(sandboxEnv.sandbox).map((b) => b.metadata.name)).toEqual([result.name]);
      expect(logs.join("\n")).toContain("looking for the Backup before asking again");
    } finally {
      await cluster.close();
    }
  });

  it("a request dropped before kotsadm saw it is asked again, once", async () => {
    env = await openTestCluster();
    const t = env;
    t.sandbox.faults.add({
      target: "kotsadm",
      method: "POST",
      path: "/api/v1/snapshot/backup",
      drop: true,
      times: 1,
    });
    const result = (await runBackup(
      { type: "full", trigger: "manual", wait: false },
      { cluster: t.cluster, emit: t.emit, now: t.now, sleep: async () => {} },
    )) as BackupRunResult;
    expect(t.sandbox.faults.hits).toHaveLength(1);
    expect(t.sandbox.kotsadm.backupRequestCount()).toBe(1);
    expect(backupsIn(t.sandbox).map((b) => b.metadata.name)).toEqual([result.name]);
  });

  it("a 500 from kotsadm with no Backup behind it is asked again at most 3 times, then exit 3", async () => {
    env = await openTestCluster();
    const t = env;
    t.sandbox.faults.add({ target: "kotsadm", method: "POST", path: "/api/v1/snapshot/backup", status: 500 });
    const error = await caught(
      runBackup(
        { type: "full", trigger: "manual", wait: false },
        { cluster: t.cluster, emit: t.emit, now: t.now, sleep: async () => {} },
      ),
    );
    expect(isKotsBackupError(error)).toBe(true);
    expect(error).toMatchObject({ code: "backup-request-failed", exitCode: 3 });
    expect(t.sandbox.faults.hits).toHaveLength(3);
    expect(backupsIn(t.sandbox)).toEqual([]);
  });
});

describe("kotsadm download (GET /api/v1/download)", () => {
  it("streams the app archive through the port-forward", async () => {
    env = await openTestCluster();
    const kotsadm = await env.cluster.kotsadm();
    const chunks: Buffer[] = [];
    for await (const chunk of await kotsadm.download("my-app")) chunks.push(Buffer.from(chunk as Uint8Array));
    const archive = Buffer.concat(chunks);
    expect(archive.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  it("treats kotsadm's empty 200 (a stale auth string) as an environment error, without showing the string", async () => {
    env = await openTestCluster();
    const kotsadm = await env.cluster.kotsadm();
    await kotsadm.listApps();
    const old = (await env.sandbox.kotsadm.authString())!;
    env.sandbox.state.mutate(
      env.sandbox.registry.byResource("", "secrets"),
      "default",
      "kotsadm-authstring",
      (s) => {
        s.data = {
          "kotsadm-authstring": Buffer.from("Kots rotated0000000000000000000000").toString("base64"),
        };
      },
    );
    const error = await caught(kotsadm.download("my-app"));
    expect(error).toMatchObject({ code: "kotsadm-download-empty", exitCode: 3 });
    expect(JSON.stringify({ message: error.message, fix: error.fix })).not.toContain(old);
  });
});

// Kubernetes and kotsadm faults through the real client (client-node over HTTPS, kotsadm over the
// WebSocket port-forward): transient faults are survived within the retry policy's bound, and a
// refusal (403, 404, 422) fails at once, naming the resource or the permission, with no retry.
// (test/backup/backup.test.ts already runs a whole backup through 429/500/reset faults; here each
// fault is tried on each kind of call, and the number of attempts is checked against the policy.)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect } from "@kots-backup/adapters/kube/connection";
import { DEFAULT_RETRY_POLICY } from "@kots-backup/adapters/retry";
import { isKotsBackupError, type KotsBackupError } from "@kots-backup/core";
import type { FaultRule } from "@kots-backup/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, type LoggedSandbox, loggedSandbox, tempDir, writeConfig } from "./support/harness.ts";
import { defineSecretScan } from "./support/secret-scan.ts";
import { exportSecretEnv } from "./support/secrets.ts";

const RBAC = readFileSync(join(import.meta.dirname, "..", "..", "deploy", "rbac.yaml"), "utf8");
const MAX = DEFAULT_RETRY_POLICY.maxAttempts;

let env: LoggedSandbox;
beforeAll(async () => {
  exportSecretEnv();
  env = await loggedSandbox();
});
afterAll(async () => {
  await env.stop();
});

/** A cluster client with the product's retry policy, whose waits are recorded instead of slept. */
async function client() {
  const connection = await connect({ kind: "kubeconfig", file: env.sandbox.kubeconfigPath });
  const waits: number[] = [];
  const cluster = new KubeKotsCluster(connection, {
    name: "reliability",
    retry: DEFAULT_RETRY_POLICY,
    sleep: async (ms: number) => {
      waits.push(ms);
    },
  });
  return { cluster, waits };
}

interface Call {
  name: string;
  target: "api" | "kotsadm";
  method: string;
  path: string;
  run: (cluster: KubeKotsCluster) => Promise<unknown>;
}

const CALLS: Call[] = [
  {
    name: "list Backups",
    target: "api",
    method: "GET",
    path: "/apis/velero.io/v1/namespaces/velero/backups",
    run: (c) => c.listBackups(),
  },
  {
    name: "get the default BSL",
    target: "api",
    method: "GET",
    path: "/backupstoragelocations/default",
    run: (c) => c.defaultBsl(),
  },
  {
    name: "list kotsadm pods",
    target: "api",
    method: "GET",
    path: "/api/v1/namespaces/default/pods",
    run: (c) => c.listApps(),
  },
  {
    name: "read the auth string",
    target: "api",
    method: "GET",
    path: "/secrets/kotsadm-authstring",
    run: (c) => c.listApps(),
  },
  {
    name: "kotsadm GET /api/v1/apps",
    target: "kotsadm",
    method: "GET",
    path: "/api/v1/apps",
    run: (c) => c.listApps(),
  },
];

interface Fault {
  name: string;
  rule: Omit<FaultRule, "target" | "method" | "path">;
  /** Faulted requests before the call succeeds. */
  count: number;
  /** Requests the call makes in all (default count + 1: the faulted ones, then one that succeeds). */
  attempts?: number;
}

const TRANSIENT: Fault[] = [
  { name: "429 with Retry-After", rule: { status: 429, retryAfterSeconds: 2 }, count: 2 },
  { name: "500", rule: { status: 500 }, count: MAX - 1 },
  { name: "503", rule: { status: 503 }, count: MAX - 1 },
  { name: "connection reset", rule: { drop: true }, count: 2 },
  // A slow answer is waited for (one request; client-node sets no per-request timeout).
  { name: "slow response (400 ms)", rule: { delayMs: 400 }, count: 1, attempts: 1 },
];

/** Requests to one path as the sandbox saw them (fault hits and observed requests). */
function requestsTo(call: Call, since: number): number {
  return env.sandbox.faults.hits
    .slice(since)
    .filter((h) => h.target === call.target && h.method === call.method && h.path.includes(call.path)).length;
}

const cases = CALLS.flatMap((call) =>
  TRANSIENT.map((fault) => [call.name, fault.name, call, fault] as const),
);
let survived = 0;

describe("transient faults are survived within the retry bound", () => {
  it.each(cases)("%s through %s", async (_c, _f, call, fault) => {
    const { cluster, waits } = await client();
    // kotsadm's requests are logged by kotsadm itself; the API's by the observer rule.
    const kotsadmBefore = env.sandbox.kotsadm.requests.filter((r) => r.path === call.path).length;
    const since = env.sandbox.faults.hits.length;
    const id = env.sandbox.faults.add({
      target: call.target,
      method: call.method,
      path: call.path,
      times: fault.count,
      ...fault.rule,
    });
    // Put the new fault before the observer rule (rules are tried in insertion order).
    reorderObservers(env);
    try {
      await call.run(cluster);
      const faulted = env.sandbox.faults.hits.slice(since).filter((h) => h.id === id).length;
      expect(faulted).toBe(fault.count);
      // kotsadm logs every request it answered (faulted statuses included, dropped ones not); the API's
      // requests go to the observer.
      const attempts =
        call.target === "api"
          ? requestsTo(call, since)
          : env.sandbox.kotsadm.requests.filter((r) => r.path === call.path).length -
            kotsadmBefore +
            (fault.rule.drop ? faulted : 0);
      expect(attempts).toBe(fault.attempts ?? fault.count + 1);
      expect(attempts).toBeLessThanOrEqual(MAX);
      if (fault.rule.retryAfterSeconds) expect(waits).toContain(fault.rule.retryAfterSeconds * 1000);
      survived += 1;
    } finally {
      env.sandbox.faults.remove(id);
      await cluster.close();
    }
  });

  it("gives up after exactly the policy's attempts when a fault does not clear", async () => {
    for (const call of CALLS.filter((c) => c.name !== "read the auth string")) {
      const { cluster } = await client();
      const since = env.sandbox.faults.hits.length;
      const id = env.sandbox.faults.add({
        target: call.target,
        method: call.method,
        path: call.path,
        status: 503,
      });
      reorderObservers(env);
      try {
        const error = await caught(call.run(cluster));
        expect(error.exitCode, call.name).toBe(3);
        expect(env.sandbox.faults.hits.slice(since).filter((h) => h.id === id)).toHaveLength(MAX);
      } finally {
        env.sandbox.faults.remove(id);
        await cluster.close();
      }
    }
  });

  it("survives the port-forward dropping mid-request (kotsadm's connection cut, then the tunnel refused once)", async () => {
    const { cluster } = await client();
    const cut = env.sandbox.faults.add({
      target: "kotsadm",
      method: "GET",
      path: "/api/v1/apps",
      drop: true,
      delayMs: 100,
      times: 1,
    });
    const refused = env.sandbox.faults.add({ target: "api", path: "/portforward", status: 503, times: 1 });
    reorderObservers(env);
    try {
      await cluster.listApps();
      expect(env.sandbox.faults.hits.filter((h) => h.id === cut)).toHaveLength(1);
      // The first tunnel was open already when the connection was cut; a fresh one was refused once.
      expect(env.sandbox.faults.hits.filter((h) => h.id === refused).length).toBeLessThanOrEqual(1);
      survived += 1;
    } finally {
      env.sandbox.faults.remove(cut);
      env.sandbox.faults.remove(refused);
      await cluster.close();
    }
  });

  it("counted every fault case", () => {
    expect(survived).toBe(cases.length + 1);
    process.stdout.write(`faults: ${survived} transient fault cases survived (≤ ${MAX} attempts each)\n`);
  });
});

async function caught(promise: Promise<unknown>): Promise<KotsBackupError> {
  try {
    await promise;
  } catch (error) {
    if (isKotsBackupError(error)) return error;
    throw error;
  }
  throw new Error("expected a failure");
}

/** Moves the observer (catch-all, effect-less) rules after every other rule. */
function reorderObservers(e: LoggedSandbox): void {
  e.reorderObservers();
}

describe("refusals fail fast, naming the resource or permission, without retrying", () => {
  it.each([
    [403, "kube-forbidden", /^missing Kubernetes permission: list backups\.velero\.io in namespace velero$/],
    [404, "kube-not-found", /^not found: list backups\.velero\.io in namespace velero/],
    [422, "kube-invalid", /refused list backups\.velero\.io in namespace velero as invalid/],
  ] as const)("Kubernetes API %i → %s", async (status, code, message) => {
    const { cluster, waits } = await client();
    const call = CALLS[0] as Call;
    const since = env.sandbox.faults.hits.length;
    const id = env.sandbox.faults.add({ target: "api", method: "GET", path: call.path, status });
    reorderObservers(env);
    try {
      const error = await caught(cluster.listBackups());
      expect(error).toMatchObject({ code, exitCode: 3 });
      expect(error.message).toMatch(message);
      expect(requestsTo(call, since)).toBe(1);
      expect(waits).toEqual([]);
    } finally {
      env.sandbox.faults.remove(id);
      await cluster.close();
    }
  });

  it("a real RBAC refusal (rule removed) names the verb, the resource and the namespace, asked once", async () => {
    const { cluster } = await client();
    env.sandbox.setRbac(
      RBAC.replace(
        'resources: ["backups"]\n    verbs: ["get", "list", "watch"]',
        'resources: ["backups"]\n    verbs: ["get", "watch"]',
      ),
    );
    const since = env.sandbox.faults.hits.length;
    try {
      const error = await caught(cluster.listBackups());
      expect(error.message).toBe("missing Kubernetes permission: list backups.velero.io in namespace velero");
      expect(error.fix).toContain("deploy/rbac.yaml");
      expect(requestsTo(CALLS[0] as Call, since)).toBe(1);
    } finally {
      env.sandbox.setRbac(RBAC);
      await cluster.close();
    }
  });

  it.each([
    [403, "kotsadm-forbidden"],
    [404, "kotsadm-error"],
    [422, "kotsadm-error"],
  ] as const)("kotsadm %i → %s naming the route, asked once", async (status, code) => {
    const { cluster, waits } = await client();
    const before = env.sandbox.faults.hits.length;
    const id = env.sandbox.faults.add({ target: "kotsadm", method: "GET", path: "/api/v1/apps", status });
    reorderObservers(env);
    try {
      const error = await caught(cluster.listApps());
      expect(error).toMatchObject({ code, exitCode: 3 });
      expect(error.message).toContain("GET /api/v1/apps");
      expect(error.message).toContain(String(status));
      expect(env.sandbox.faults.hits.slice(before).filter((h) => h.id === id)).toHaveLength(1);
      expect(waits).toEqual([]);
    } finally {
      env.sandbox.faults.remove(id);
      await cluster.close();
    }
  });
});

describe("what a user sees when things fail (output recorded for the secret scan)", () => {
  it("exits 3 with a clear message when kotsadm refuses the auth string, or the API is down or refuses", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      cluster: { name: "prod", kubeconfig: env.sandbox.kubeconfigPath },
      export: { destination: `file://${join(dir, "dest")}` },
    });
    const unauthorized = env.sandbox.faults.add({ target: "kotsadm", status: 401 });
    reorderObservers(env);
    try {
      for (const args of [
        ["backup"],
        ["--json", "backup"],
        ["--json", "backup", "--type", "partial", "--app", "my-app"],
      ]) {
        const run = await cli(["--config", config, ...args], env.sandbox);
        expect(run.code, args.join(" ")).toBe(3);
        expect(run.stdout + run.stderr).toMatch(/kotsadm-authstring credentials \(401\)/);
      }
    } finally {
      env.sandbox.faults.remove(unauthorized);
    }
    // An API that keeps failing (retried with the real backoff, so once), then one that refuses.
    for (const [status, args, says] of [
      [500, ["--json", "ls"], /answered 500/],
      [403, ["backup"], /missing Kubernetes permission/],
      [403, ["--json", "ls"], /missing Kubernetes permission/],
    ] as const) {
      const down = env.sandbox.faults.add({ target: "api", status });
      reorderObservers(env);
      try {
        const run = await cli(["--config", config, ...args], env.sandbox);
        expect(run.code, args.join(" ")).toBe(3);
        expect(run.stdout + run.stderr).toMatch(says);
      } finally {
        env.sandbox.faults.remove(down);
      }
    }
    const wrongToken = join(dir, "wrong-token");
    writeConfig(dir, {}, "unused.yaml");
    const yaml = env.sandbox.kubeconfigYaml.replace(env.sandbox.serviceAccountToken, "not-the-token");
    (await import("node:fs")).writeFileSync(wrongToken, yaml);
    for (const args of [["ls"], ["--json", "backup"]]) {
      const run = await cli(["--kubeconfig", wrongToken, ...args]);
      expect(run.code).toBe(3);
      expect(run.stdout + run.stderr).toMatch(/rejected kots-backup's credentials \(401\)/);
    }
  });
});

defineSecretScan("faults");

// Least privilege, Kubernetes side: the shipped deploy/rbac.yaml is enough for every operation, and
// every single permission in it (one verb on one resource of one rule) is needed: with it removed, at
// least one operation fails with a message naming that verb and resource. One test per permission,
// generated from the manifest itself, so a rule added later gets its own test.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { VELERO_BACKUPS } from "@kots-backup/adapters/kube/api";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect, type KubeConnection } from "@kots-backup/adapters/kube/connection";
import { findVeleroNamespace } from "@kots-backup/adapters/kube/discovery";
import { KubeDownloadSource } from "@kots-backup/adapters/kube/download-request";
import { runDoctor } from "@kots-backup/cli/commands/doctor";
import { listBackups, runBackup } from "@kots-backup/core/usecases/index";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { createOutput } from "../../packages/cli/src/output.ts";
import { recordCaptured } from "../support/capture.ts";
import { type LoggedSandbox, loggedSandbox } from "./support/harness.ts";
import { defineSecretScan } from "./support/secret-scan.ts";

const RBAC_PATH = join(import.meta.dirname, "..", "..", "deploy", "rbac.yaml");
const RBAC = readFileSync(RBAC_PATH, "utf8");

interface RuleDoc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[];
}

/** One permission of the manifest: a verb on a resource, in one rule of one Role/ClusterRole. */
interface Permission {
  doc: number;
  rule: number;
  resource: string;
  verb: string;
  /** `get secrets kotsadm-authstring (Role kots-backup in default)` */
  label: string;
}

const documents = parseAllDocuments(RBAC).map((d) => d.toJS() as RuleDoc);
const PERMISSIONS: Permission[] = documents.flatMap((doc, d) =>
  (doc.rules ?? []).flatMap((rule, r) =>
    rule.resources.flatMap((resource) =>
      rule.verbs.map((verb) => ({
        doc: d,
        rule: r,
        resource,
        verb,
        label: `${verb} ${resource}${rule.apiGroups[0] ? `.${rule.apiGroups[0]}` : ""}${rule.resourceNames ? ` ${rule.resourceNames.join(",")}` : ""} (${doc.kind} ${doc.metadata.name}${doc.metadata.namespace ? ` in ${doc.metadata.namespace}` : ""})`,
      })),
    ),
  ),
);

/** The manifest without one permission (a rule left with no verb or no resource is dropped). */
function without(p: Permission): string {
  const docs = structuredClone(documents);
  const doc = docs[p.doc] as RuleDoc;
  const rule = doc.rules?.[p.rule];
  if (!rule) throw new Error(`no rule ${p.rule}`);
  const others = rule.resources.filter((r) => r !== p.resource);
  const rest = rule.verbs.filter((v) => v !== p.verb);
  const replacement = [
    ...(rest.length > 0 ? [{ ...rule, resources: [p.resource], verbs: rest }] : []),
    ...(others.length > 0 ? [{ ...rule, resources: others }] : []),
  ];
  doc.rules?.splice(p.rule, 1, ...replacement);
  return docs.map((d) => stringify(d)).join("---\n");
}

/**
 * Permissions no operation of the product uses today. Each is a finding against the manifest, kept
 * visible as an expected failure: when deploy/rbac.yaml drops it, its case disappears; when the
 * product starts to need it, the case fails and must be moved out of this list.
 */
const NOT_NEEDED = new Set<string>();

let env: LoggedSandbox;
let connection: KubeConnection;
let exported: string;

beforeAll(async () => {
  env = await loggedSandbox();
  connection = await connect({ kind: "kubeconfig", file: env.sandbox.kubeconfigPath });
  const backup = await env.sandbox.scenario.addBackup({
    kind: "instance",
    phase: "Completed",
    writeArtifacts: true,
  });
  exported = backup.metadata.name ?? "";
});
afterAll(async () => {
  await env.stop();
});

const fast = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 };
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `work`, moving the sandbox clock on so Velero finishes backups. */
async function driven<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const watched = work.finally(() => {
    done = true;
  });
  watched.catch(() => {});
  for (let guard = 0; !done && guard < 2_000; guard++) {
    await pause(15);
    if (!done) await env.sandbox.clock.advance(10_000);
  }
  return work;
}

type Operation = (cluster: KubeKotsCluster) => Promise<unknown>;

const OPERATIONS: Record<string, Operation> = {
  "backup full": (cluster) =>
    driven(
      runBackup(
        { type: "full", trigger: "manual", wait: true, timeoutMs: 600_000 },
        { cluster, emit: () => {}, now: () => env.sandbox.clock.now() },
      ),
    ),
  "backup partial": (cluster) =>
    driven(
      runBackup(
        { type: "partial", app: "my-app", trigger: "manual", wait: true, timeoutMs: 600_000 },
        { cluster, emit: () => {}, now: () => env.sandbox.clock.now() },
      ),
    ),
  ls: (cluster) => listBackups({ appField: "--app" }, { cluster }),
  "follow (watch)": async (cluster) => {
    const namespace = (await cluster.veleroNamespace()).namespace;
    await new Promise<void>((resolve, reject) => {
      let stop: () => void = () => {};
      void cluster.api
        .watchCustomNamed(
          VELERO_BACKUPS,
          namespace,
          exported,
          () => {
            stop();
            resolve();
          },
          (error) => (error ? reject(error) : resolve()),
        )
        .then((abort) => {
          stop = abort;
        });
    });
  },
  "read the default BSL": (cluster) => cluster.defaultBsl(),
  "export through a DownloadRequest": async (cluster) => {
    const namespace = (await cluster.veleroNamespace()).namespace;
    const source = new KubeDownloadSource(cluster.api, namespace, { pollMs: 10, timeoutMs: 5_000 });
    const url = await source.requestUrl("BackupLog", exported);
    const { body } = await source.open(url, `${exported} logs`);
    for await (const _ of body) {
      // read it all
    }
  },
  "find Velero without the kotsadm-velero-namespace hint": async (cluster) => {
    env.sandbox.scenario.setVeleroNamespaceHint(undefined);
    try {
      return await findVeleroNamespace(cluster.api, cluster.kotsadmNamespace);
    } finally {
      env.sandbox.scenario.setVeleroNamespaceHint(env.sandbox.namespaces.velero);
    }
  },
};

/** Runs every operation with a fresh client; returns the failures by operation. */
async function runAll(): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  for (const [name, operation] of Object.entries(OPERATIONS)) {
    const cluster = new KubeKotsCluster(connection, { name: "rbac", retry: fast, sleep: () => pause(5) });
    try {
      await operation(cluster);
    } catch (error) {
      failures.set(name, error instanceof Error ? error.message : String(error));
    } finally {
      await cluster.close();
    }
  }
  recordCaptured([...failures].map(([op, message]) => `rbac: ${op}: ${message}`).join("\n"));
  return failures;
}

describe("deploy/rbac.yaml", () => {
  it("is enough for every operation, and doctor's checks pass with it", async () => {
    env.sandbox.setRbac(RBAC);
    expect(await runAll()).toEqual(new Map());
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const report = await runDoctor(
      { kubeconfig: env.sandbox.kubeconfigPath, json: true },
      createOutput(true, { stdout, stderr }),
    );
    const failed = report.checks.filter(
      (c) => !c.ok && /permission|rbac|api|kotsadm|velero|bsl/i.test(c.name),
    );
    expect(failed).toEqual([]);
  });

  let proven = 0;
  it.each(PERMISSIONS.map((p) => [p.label, p] as const))(
    "without %s, an operation fails naming it",
    async (_label, permission) => {
      const check = async () => {
        env.sandbox.setRbac(without(permission));
        try {
          const failures = await runAll();
          const resource = permission.resource.split("/")[0] as string;
          const naming = [...failures].filter(
            ([, message]) =>
              /missing Kubernetes permission/.test(message) &&
              new RegExp(`\\b${permission.verb}\\b`).test(message) &&
              message.includes(permission.resource.includes("/") ? permission.resource : resource),
          );
          expect(naming.length, `failures: ${JSON.stringify([...failures])}`).toBeGreaterThan(0);
        } finally {
          env.sandbox.setRbac(RBAC);
        }
      };
      const key = `${permission.verb} ${permission.resource}`;
      if (NOT_NEEDED.has(key)) {
        await expect(check()).rejects.toThrow();
        return;
      }
      await check();
      proven += 1;
    },
  );

  it("counts the permissions proven necessary", () => {
    expect(proven).toBe(PERMISSIONS.length - NOT_NEEDED.size);
    process.stdout.write(
      `rbac: ${proven} of ${PERMISSIONS.length} permissions of deploy/rbac.yaml proven necessary; not needed by any operation: ${[...NOT_NEEDED].join(", ") || "none"}\n`,
    );
  });
});

defineSecretScan("rbac");

// The LIVE restore drill (`drill.cluster`), proven against the real engine: a source apiserver + Velero
// backs the app up to MinIO, `kots-backup export --scope full` copies it to s3://exports/kb, and a DR
// apiserver + Velero reads `kb/velero` as a ReadOnly BSL (test/support/real-dr.ts). `kots-backup drill`
// then, as the DR identity of deploy/dr-rbac.yaml applied as shipped:
//   - waits for the DR Velero's sync, restores into scratch namespaces, compares, records the RTO and
//     deletes the scratch namespaces;
//   - fails naming why when the DR cluster refuses an item (a ValidatingAdmissionPolicy) and the Restore
//     ends PartiallyFailed;
//   - fails naming the missing permission when any one grant of deploy/dr-rbac.yaml is removed.
// All scenarios reuse one synced backup: the BSL sync (a one-minute timer in Velero v1.18.1) dominates.
// The test apiserver runs no controller-manager: a deleted namespace stays Terminating (a real cluster's
// namespace controller then removes it), so "gone" is asserted as "deletion requested".
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { liveDrillTarget } from "@kots-backup/adapters/drill/live";
import { drillRestore, scratchNamespaces } from "@kots-backup/core/live-drill";
import { loadCrds } from "@kots-backup/sandbox/k8s/crds";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type Kube, realPeersBuilt, scratch } from "../support/real-cluster.ts";
import { APP_NS, cli, type DrPair, readObject, startDrPair, until } from "../support/real-dr.ts";

const RBAC_FILE = resolve(import.meta.dirname, "../../deploy/dr-rbac.yaml");

/** deploy/dr-rbac.yaml's objects, as shipped. */
function shippedDrRbac(): KubernetesObject[] {
  return parseAllDocuments(readFileSync(RBAC_FILE, "utf8")).map((doc) => doc.toJSON() as KubernetesObject);
}

describe("live drill, without a cluster", () => {
  it("creates a Restore that Velero v1.18's CRD schema accepts", () => {
    const crds = loadCrds();
    const type = crds.types.find((t) => t.group === "velero.io" && t.plural === "restores");
    expect(type).toBeDefined();
    const restore = drillRestore({
      name: "instance-abc12-drill-x1y2z",
      veleroNamespace: "velero",
      backup: "instance-abc12",
      namespaceMapping: scratchNamespaces("kb-drill-", "x1y2z", ["my-app", "default"]),
    });
    expect(() => crds.validate(type as never, restore as never)).not.toThrow();
    // The check can fail: a field of the wrong type is refused.
    const wrong = { ...restore, spec: { ...restore.spec, includeClusterResources: "no" } };
    expect(() => crds.validate(type as never, wrong as never)).toThrow(/includeClusterResources/);
  });

  it("refuses a DR kubeconfig that skips TLS verification unless drill.cluster says so, naming the field", async () => {
    const dir = scratch("kb-live-tls-");
    try {
      const kubeconfig = join(dir.dir, "dr.yaml");
      writeFileSync(
        kubeconfig,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          "- name: dr\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true",
          "users:",
          "- name: u\n  user:\n    token: t0ken",
          "contexts:",
          "- name: dr\n  context:\n    cluster: dr\n    user: u",
          "current-context: dr",
          "",
        ].join("\n"),
      );
      const settings = {
        kubeconfig,
        insecureSkipTlsVerify: false,
        veleroNamespace: "velero",
        namespacePrefix: "kb-drill-",
        syncTimeout: 1000,
        restoreTimeout: 1000,
      };
      await expect(liveDrillTarget(settings)).rejects.toMatchObject({
        code: "tls-skip-refused",
        field: "drill.cluster.insecureSkipTlsVerify",
      });
      const warnings: string[] = [];
      const target = await liveDrillTarget(
        { ...settings, insecureSkipTlsVerify: true },
        { warn: (m) => warnings.push(m) },
      );
      expect(target.api.server).toBe("https://127.0.0.1:1");
      expect(warnings.join("\n")).toMatch(/TLS verification .* is OFF/);
    } finally {
      dir.remove();
    }
  });

  it("fails on a missing DR kubeconfig before drilling or recording anything", async () => {
    const dir = scratch("kb-live-input-");
    try {
      const config = join(dir.dir, "kots-backup.json");
      writeFileSync(
        config,
        JSON.stringify({
          cluster: { name: "test" },
          export: { destination: `file://${join(dir.dir, "exports")}` },
          drill: { schedule: "0 5 * * 0", cluster: { kubeconfig: join(dir.dir, "missing.yaml") } },
        }),
      );
      const run = await cli(["drill", "--config", config]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain("drill.cluster.kubeconfig");
      expect(existsSync(join(dir.dir, "exports", "state", "drills"))).toBe(false);
    } finally {
      dir.remove();
    }
  });
});

describe.skipIf(!realPeersBuilt())("live drill against real Kubernetes and Velero", () => {
  const tmp = scratch("kb-live-");
  // The DR identity: deploy/dr-rbac.yaml's ServiceAccount, as the apiserver authenticates its token.
  const identity = {
    token: randomBytes(24).toString("hex"),
    user: "system:serviceaccount:kots-backup-drill:kots-backup-drill",
    groups: ["system:serviceaccounts", "system:serviceaccounts:kots-backup-drill"],
  };
  let pair: DrPair;
  let configPath: string;

  /** Runs `kots-backup drill --json` (or human output) with drill.cluster on the DR identity. */
  async function drill(...args: string[]) {
    const run = await cli(["drill", "--config", configPath, ...args]);
    return { ...run, report: args.includes("--json") ? JSON.parse(run.stdout || "{}") : undefined };
  }

  beforeAll(async () => {
    pair = await startDrPair(tmp.dir, [identity]);
    for (const object of shippedDrRbac()) await pair.dr.objects.create(object);
    configPath = join(tmp.dir, "kots-backup.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        ...pair.config,
        drill: {
          schedule: "0 5 * * 0",
          cluster: {
            kubeconfig: pair.dr.kubeconfigFor("kots-backup-drill", identity.token),
            syncTimeout: "3m",
            restoreTimeout: "2m",
          },
        },
      }),
    );
  }, 400_000);

  afterAll(async () => {
    await pair?.stop();
    tmp.remove();
  });

  /** A namespace is gone, or its deletion was requested (no namespace controller in the test cluster). */
  async function deleted(kube: Kube, name: string): Promise<boolean> {
    const ns = await readObject(kube, "v1", "Namespace", name);
    return ns === undefined || ns.metadata.deletionTimestamp !== undefined;
  }

  it("syncs, restores into scratch namespaces, compares, records the RTO and deletes the namespaces", async () => {
    const run = await drill("--json");
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const [result] = run.report.results;
    expect(result).toMatchObject({ backup: pair.backup, ok: true, restoreMs: expect.any(Number) });
    expect(result.restoreMs).toBeGreaterThan(0);
    const live = result.live;
    expect(live).toMatchObject({ ok: true, restore: expect.stringMatching(/-drill-[a-z0-9]{5}$/) });
    // ConfigMap, Secret, Service, Deployment: each read back in its scratch namespace.
    expect(live.itemsCompared).toBe(4);
    const scratchNs = live.namespaces[APP_NS] as string;
    expect(scratchNs).toMatch(/^kb-drill-[a-z0-9]{5}-\d+-my-app$/);

    // Restored into the scratch namespace (still there while Terminating), never under its own name.
    const restored = await readObject(pair.dr, "v1", "ConfigMap", "web-config", scratchNs);
    expect(restored?.data).toEqual({ "settings.yaml": "replicas: 2\n" });
    expect(await readObject(pair.dr, "v1", "Namespace", APP_NS)).toBeUndefined();
    for (const name of Object.values(live.namespaces) as string[])
      expect(await deleted(pair.dr, name)).toBe(true);

    // The Restore is kept (Velero's record of the drill), namespaced-only.
    const restore = await readObject(pair.dr, "velero.io/v1", "Restore", live.restore, "velero");
    expect(restore?.spec).toMatchObject({ includeClusterResources: false, includedNamespaces: [APP_NS] });
    expect(restore?.status?.phase).toBe("Completed");

    // The run is recorded with its restore time, for the drill check and status.
    const listed = await pair.s3.send(
      new ListObjectsV2Command({ Bucket: "exports", Prefix: "kb/state/drills/" }),
    );
    const key = listed.Contents?.at(-1)?.Key as string;
    const recorded = JSON.parse(
      (await (
        await pair.s3.send(new GetObjectCommand({ Bucket: "exports", Key: key }))
      ).Body?.transformToString()) ?? "{}",
    );
    expect(recorded.results[0]).toMatchObject({ backup: pair.backup, ok: true, restoreMs: result.restoreMs });
  }, 300_000);

  it("fails naming why when the DR cluster refuses a restored item (Restore PartiallyFailed)", async () => {
    // A ValidatingAdmissionPolicy refusing the app's ConfigMap: Velero's create of it fails.
    const policy = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: "refuse-web-config" },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] },
          ],
        },
        validations: [{ expression: "object.metadata.name != 'web-config'", message: "web-config refused" }],
      },
    } as KubernetesObject;
    const binding = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: "refuse-web-config" },
      spec: { policyName: "refuse-web-config", validationActions: ["Deny"] },
    } as KubernetesObject;
    await pair.dr.objects.create(policy);
    await pair.dr.objects.create(binding);
    try {
      // The policy is in force once the apiserver refuses such a ConfigMap itself.
      await until(
        "the admission policy to be in force",
        async () => {
          try {
            await pair.dr.objects.create({
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: "web-config", namespace: "default" },
            } as KubernetesObject);
            await pair.dr.objects.delete({
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: "web-config", namespace: "default" },
            } as KubernetesObject);
            return undefined;
          } catch (error) {
            return (error as { code?: number }).code === 422 ? true : undefined;
          }
        },
        30_000,
      );
      const run = await drill("--json");
      expect(run.code, run.stderr).toBe(1);
      const [result] = run.report.results;
      expect(result.ok).toBe(false);
      expect(result.cause).toMatch(
        /^live drill, restore: Restore \S+-drill-[a-z0-9]{5} ended PartiallyFailed \(errors [1-9]\d*, warnings \d+\)/,
      );
      expect(result.restoreMs).toBeUndefined();
      // Cleaned up all the same.
      for (const name of Object.values(result.live.namespaces) as string[])
        expect(await deleted(pair.dr, name)).toBe(true);
    } finally {
      await pair.dr.objects.delete(binding);
      await pair.dr.objects.delete(policy);
    }
  }, 300_000);

  it("needs every grant of deploy/dr-rbac.yaml: without any one, the drill fails naming it", async () => {
    const shipped = shippedDrRbac();
    const roles = shipped.filter((o) => o.kind === "Role" || o.kind === "ClusterRole") as Array<
      KubernetesObject & { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }
    >;
    // Each (role, rule, resource, verb): one grant.
    const grants = roles.flatMap((role) =>
      role.rules.flatMap((rule, index) =>
        rule.resources.flatMap((resource) =>
          rule.verbs.map((verb) => ({ role, index, resource, verb, group: rule.apiGroups[0] ?? "" })),
        ),
      ),
    );
    expect(grants.length).toBeGreaterThanOrEqual(8);
    const allowed = async (verb: string, resource: string, group: string, namespace: string) => {
      const review = (await pair.dr.objects.create({
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: identity.user,
          groups: identity.groups,
          resourceAttributes: { verb, resource, group, namespace },
        },
      } as KubernetesObject)) as { status?: { allowed?: boolean } };
      return review.status?.allowed === true;
    };
    const failures: string[] = [];
    for (const grant of grants) {
      const rules = grant.role.rules
        .map((rule, index) =>
          index !== grant.index
            ? rule
            : rule.resources.length > 1
              ? { ...rule, resources: rule.resources.filter((r) => r !== grant.resource) }
              : { ...rule, verbs: rule.verbs.filter((v) => v !== grant.verb) },
        )
        .filter((rule) => rule.verbs.length > 0);
      await pair.dr.objects.replace({ ...grant.role, rules } as KubernetesObject);
      // In force once the apiserver's authorizer says so (a Role's namespace, any scratch one else).
      const namespace = grant.role.metadata?.namespace ?? "kb-drill-probe";
      await until(
        `RBAC without ${grant.verb} ${grant.resource}`,
        async () => ((await allowed(grant.verb, grant.resource, grant.group, namespace)) ? undefined : true),
        10_000,
      );
      try {
        const run = await drill("--json");
        const cause: string = run.report.results?.[0]?.cause ?? run.stderr;
        const permission = `missing Kubernetes permission: ${grant.verb} ${grant.resource}${grant.group ? `.${grant.group}` : ""}`;
        if (run.code !== 1 || !cause.includes(permission) || !cause.includes("deploy/dr-rbac.yaml"))
          failures.push(`without ${grant.verb} ${grant.resource}: exit ${run.code}, ${cause}`);
      } finally {
        await pair.dr.objects.replace(grant.role);
      }
    }
    expect(failures).toEqual([]);

    // With the manifest whole again, it passes; the human output gives the RTO.
    await until(
      "RBAC restored",
      async () => ((await allowed("get", "restores", "velero.io", "velero")) ? true : undefined),
      10_000,
    );
    const run = await drill();
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^ok +${pair.backup} .*restored in the DR cluster: RTO \\d+\\.\\d s`, "m"),
    );
  }, 600_000);
});

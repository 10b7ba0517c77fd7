// The Kubernetes API subset, driven only through @kubernetes/client-node over HTTPS.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../sandbox.ts";
import { failureOf, type KubeClients, kubeClients } from "../testing/kube-clients.ts";

const velero = { group: "velero.io", version: "v1", namespace: "velero" };
const backups = { ...velero, plural: "backups" };

function backupBody(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: { name },
    spec: { storageLocation: "default", ...spec },
  };
}

describe("Kubernetes API subset", () => {
  let sandbox: Sandbox;
  let admin: KubeClients;
  let sa: KubeClients;

  beforeAll(async () => {
    sandbox = await startSandbox();
    admin = kubeClients(sandbox.adminKubeconfigYaml);
    sa = kubeClients(sandbox.kubeconfigYaml);
  });
  afterAll(() => sandbox.stop());

  it("pages a list with limit and continue, and returns everything without a limit", async () => {
    await sandbox.scenario.addBackups(7, (i) => ({
      name: `paged-${i}`,
      kind: "other",
      labels: { batch: "paged" },
    }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = (await sa.custom.listNamespacedCustomObject({
        ...backups,
        labelSelector: "batch=paged",
        limit: 3,
        _continue: token,
      })) as {
        items: { metadata: { name: string } }[];
        metadata: { continue?: string };
      };
      seen.push(...page.items.map((b) => b.metadata.name));
      token = page.metadata.continue;
      pages += 1;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `paged-${i}`));

    const all = (await sa.custom.listNamespacedCustomObject({
      ...backups,
      labelSelector: "batch=paged",
    })) as {
      items: unknown[];
      metadata: { continue?: string };
    };
    expect(all.items).toHaveLength(7);
    expect(all.metadata.continue).toBeUndefined();
  });

  it("creates with generateName: prefix plus 5 lowercase alphanumerics, uid, resourceVersion, creationTimestamp", async () => {
    const created = (await admin.custom.createNamespacedCustomObject({
      ...velero,
      plural: "downloadrequests",
      body: {
        apiVersion: "velero.io/v1",
        kind: "DownloadRequest",
        metadata: { generateName: "dl-" },
        spec: { target: { kind: "BackupLog", name: "missing" } },
      },
    })) as { metadata: { name: string; uid: string; resourceVersion: string; creationTimestamp: string } };
    expect(created.metadata.name).toMatch(/^dl-[a-z0-9]{5}$/);
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata.creationTimestamp).toBe("2026-11-23T12:00:00Z");
  });

  it("answers AlreadyExists, NotFound and Unauthorized with real Status bodies", async () => {
    await admin.custom.createNamespacedCustomObject({ ...backups, body: backupBody("dup") });
    const duplicate = await failureOf(
      admin.custom.createNamespacedCustomObject({ ...backups, body: backupBody("dup") }),
    );
    expect(duplicate).toMatchObject({
      code: 409,
      reason: "AlreadyExists",
      message: 'backups.velero.io "dup" already exists',
    });

    const missing = await failureOf(sa.custom.getNamespacedCustomObject({ ...backups, name: "nope" }));
    expect(missing).toMatchObject({
      code: 404,
      reason: "NotFound",
      message: 'backups.velero.io "nope" not found',
    });

    const stranger = kubeClients(sandbox.kubeconfigYaml.replace(sandbox.serviceAccountToken, "wrong-token"));
    const unauthorized = await failureOf(stranger.core.listNamespacedPod({ namespace: "default" }));
    // client-node drops the body of a 401 (its generated code maps 401 to a fixed ApiException).
    expect(unauthorized.code).toBe(401);
  });

  it("streams ADDED, MODIFIED and DELETED watch events from a resourceVersion", async () => {
    const list = (await sa.custom.listNamespacedCustomObject(backups)) as {
      metadata: { resourceVersion: string };
    };
    const events: string[] = [];
    const watch = new k8s.Watch(admin.kc);
    let sawDelete!: () => void;
    const deleted = new Promise<void>((resolve) => {
      sawDelete = resolve;
    });
    const controller = await watch.watch(
      "/apis/velero.io/v1/namespaces/velero/backups",
      { resourceVersion: list.metadata.resourceVersion, labelSelector: "watch=me" },
      (type, object) => {
        events.push(`${type} ${object.metadata.name}`);
        if (type === "DELETED") sawDelete();
      },
      () => {},
    );
    const body = {
      ...backupBody("watched", { ttl: "1h0m0s" }),
      metadata: { name: "watched", labels: { watch: "me" } },
    };
    await admin.custom.createNamespacedCustomObject({ ...backups, body });
    await admin.custom.patchNamespacedCustomObject(
      { ...backups, name: "watched", body: { metadata: { annotations: { touched: "yes" } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await admin.custom.deleteNamespacedCustomObject({ ...backups, name: "watched" });
    await deleted;
    controller.abort();
    // Velero may also have moved the backup through its phases in between (more MODIFIED events).
    expect(events[0]).toBe("ADDED watched");
    expect(events).toContain("MODIFIED watched");
    expect(events.at(-1)).toBe("DELETED watched");
  });

  it("writes status by merge-patching the object, and /status does not exist on Velero CRDs", async () => {
    await sandbox.scenario.addBackup({ name: "status-target", kind: "other", phase: "InProgress" });
    const patched = (await admin.custom.patchNamespacedCustomObject(
      {
        ...backups,
        name: "status-target",
        body: { status: { progress: { totalItems: 10, itemsBackedUp: 9 } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    )) as { status: { phase: string; progress: { itemsBackedUp: number } } };
    expect(patched.status.phase).toBe("InProgress");
    expect(patched.status.progress.itemsBackedUp).toBe(9);

    const viaStatus = await failureOf(
      admin.custom.patchNamespacedCustomObjectStatus(
        { ...backups, name: "status-target", body: { status: { phase: "Completed" } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ),
    );
    expect(viaStatus).toMatchObject({ code: 404, reason: "NotFound" });
    const readStatus = await failureOf(
      admin.custom.getNamespacedCustomObjectStatus({ ...backups, name: "status-target" }),
    );
    expect(readStatus).toMatchObject({ code: 404 });
  });

  it("applies JSON patches and rejects a stale resourceVersion on update with 409 Conflict", async () => {
    await sandbox.scenario.addBackup({ name: "patched-json", kind: "other" });
    const patched = (await admin.custom.patchNamespacedCustomObject(
      {
        ...backups,
        name: "patched-json",
        body: [{ op: "add", path: "/metadata/labels/team", value: "ops" }],
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    )) as { metadata: { labels: Record<string, string>; resourceVersion: string } };
    expect(patched.metadata.labels.team).toBe("ops");

    const stale = { ...patched, metadata: { ...patched.metadata, resourceVersion: "1" } };
    const conflict = await failureOf(
      admin.custom.replaceNamespacedCustomObject({ ...backups, name: "patched-json", body: stale }),
    );
    expect(conflict).toMatchObject({ code: 409, reason: "Conflict" });
    expect(conflict.message).toContain("the object has been modified");

    const replaced = (await admin.custom.replaceNamespacedCustomObject({
      ...backups,
      name: "patched-json",
      body: patched,
    })) as {
      metadata: { resourceVersion: string };
    };
    expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(
      Number(patched.metadata.resourceVersion),
    );
  });

  it("rejects a Backup that does not match the CRD schema with 422 Invalid", async () => {
    const invalid = await failureOf(
      admin.custom.createNamespacedCustomObject({
        ...backups,
        body: backupBody("bad-ttl", { ttl: 720, includedNamespaces: "default" }),
      }),
    );
    expect(invalid).toMatchObject({ code: 422, reason: "Invalid" });
    expect(invalid.message).toContain('Backup.velero.io "bad-ttl" is invalid');
    expect(invalid.message).toContain("spec.ttl");
    expect(invalid.message).toContain("spec.includedNamespaces");

    const badPhase = await failureOf(
      admin.custom.createNamespacedCustomObject({
        ...backups,
        body: { ...backupBody("bad-phase"), status: { phase: "Done" } },
      }),
    );
    expect(badPhase).toMatchObject({ code: 422, reason: "Invalid" });
  });

  it("gets and lists the built-in resources kots-backup needs", async () => {
    const pods = await sa.core.listNamespacedPod({ namespace: "default", labelSelector: "app=kotsadm" });
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.status?.phase).toBe("Running");
    expect(pods.items[0]?.metadata?.labels?.app).toBe("kotsadm");

    const secret = await sa.core.readNamespacedSecret({ namespace: "default", name: "kotsadm-authstring" });
    expect(Buffer.from(secret.data!["kotsadm-authstring"]!, "base64").toString()).toMatch(
      /^Kots [A-Za-z0-9]{32}$/,
    );
    const hint = await sa.core.readNamespacedConfigMap({
      namespace: "default",
      name: "kotsadm-velero-namespace",
    });
    expect(hint.data?.veleroNamespace).toBe("velero");

    const deployments = await sa.apps.listDeploymentForAllNamespaces();
    const veleroDeployment = deployments.items.find((d) => d.metadata?.name === "velero");
    expect(veleroDeployment?.metadata?.namespace).toBe("velero");
  });
});

describe("RBAC from deploy/rbac.yaml", () => {
  let sandbox: Sandbox;
  let sa: KubeClients;

  beforeAll(async () => {
    sandbox = await startSandbox();
    sa = kubeClients(sandbox.kubeconfigYaml);
  });
  afterAll(() => sandbox.stop());

  it("forbids creating Backups directly, with kube-apiserver's message", async () => {
    const denied = await failureOf(
      sa.custom.createNamespacedCustomObject({ ...backups, body: backupBody("direct") }),
    );
    expect(denied).toEqual({
      code: 403,
      reason: "Forbidden",
      message:
        'backups.velero.io is forbidden: User "system:serviceaccount:default:kots-backup" cannot create resource "backups" in API group "velero.io" in the namespace "velero"',
    });
  });

  it("limits secrets to kotsadm-authstring and deployments to a cluster-wide list", async () => {
    const other = await failureOf(
      sa.core.readNamespacedSecret({ namespace: "default", name: "cloud-credentials" }),
    );
    expect(other.code).toBe(403);
    expect(other.message).toContain('secrets "cloud-credentials" is forbidden');
    const getDeployment = await failureOf(
      sa.apps.readNamespacedDeployment({ namespace: "velero", name: "velero" }),
    );
    expect(getDeployment.message).toContain(
      'cannot get resource "deployments" in API group "apps" in the namespace "velero"',
    );
  });

  it("answers SelfSubjectAccessReview from the same rules", async () => {
    const review = (attributes: k8s.V1ResourceAttributes) =>
      sa.authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } });
    expect(
      (await review({ namespace: "velero", verb: "watch", group: "velero.io", resource: "backups" })).status
        ?.allowed,
    ).toBe(true);
    expect(
      (await review({ namespace: "velero", verb: "create", group: "velero.io", resource: "backups" })).status
        ?.allowed,
    ).toBe(false);
  });

  it("enforces a modified rule set", async () => {
    const { readFileSync } = await import("node:fs");
    const { defaultRbacPath } = await import("./rbac.ts");
    const original = readFileSync(defaultRbacPath, "utf8");
    const bsl = { ...velero, plural: "backupstoragelocations", name: "default" };
    await sa.custom.getNamespacedCustomObject(bsl);
    const modified = original.replace(
      /resources: \["backupstoragelocations"\]\n {4}verbs: \["get"\]/,
      'resources: ["backupstoragelocations"]\n    verbs: ["watch"]',
    );
    expect(modified).not.toBe(original);
    sandbox.setRbac(modified);
    const denied = await failureOf(sa.custom.getNamespacedCustomObject(bsl));
    expect(denied).toMatchObject({ code: 403, reason: "Forbidden" });
    sandbox.setRbac(original);
  });
});

// kotsadm behind pods/portforward, reached like `kubectl kots backup` does: client-node PortForward
// behind a local TCP server, the auth string from Secret kotsadm-authstring, then plain fetch.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../sandbox.ts";
import { forwardPort, type KubeClients, kubeClients, readTarGz } from "../testing/kube-clients.ts";

const backups = { group: "velero.io", version: "v1", namespace: "velero", plural: "backups" };

interface Backup {
  metadata: {
    name: string;
    generateName?: string;
    annotations: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: Record<string, unknown>;
  status?: { phase?: string };
}

describe("kotsadm through the port-forward", () => {
  let sandbox: Sandbox;
  let sa: KubeClients;
  let kotsadmUrl: string;
  let authString: string;
  let closeForward: () => Promise<void>;

  beforeAll(async () => {
    sandbox = await startSandbox({
      apps: [{ slug: "my-app", name: "My App", sequence: 7, versionLabel: "2.0.1" }],
    });
    sa = kubeClients(sandbox.kubeconfigYaml);
    const pods = await sa.core.listNamespacedPod({ namespace: "default", labelSelector: "app=kotsadm" });
    const pod = pods.items.find((p) => p.status?.phase === "Running")!;
    const secret = await sa.core.readNamespacedSecret({ namespace: "default", name: "kotsadm-authstring" });
    authString = Buffer.from(secret.data!["kotsadm-authstring"]!, "base64").toString("utf8");
    const forward = await forwardPort(sa.kc, "default", pod.metadata!.name!, 3000);
    kotsadmUrl = forward.url;
    closeForward = forward.close;
  });
  afterAll(async () => {
    await closeForward();
    await sandbox.stop();
  });

  const post = (path: string, auth = authString) =>
    fetch(`${kotsadmUrl}${path}`, { method: "POST", headers: { authorization: auth } });
  const get = (path: string, auth = authString) =>
    fetch(`${kotsadmUrl}${path}`, { headers: { authorization: auth } });

  it("starts an instance backup that Velero takes to Completed, followed with a watch", async () => {
    const response = await post("/api/v1/snapshot/backup");
    expect(response.status).toBe(200);
    const { success, backupName } = (await response.json()) as { success: boolean; backupName: string };
    expect(success).toBe(true);
    expect(backupName).toMatch(/^instance-[a-z0-9]{5}$/);

    const backup = (await sa.custom.getNamespacedCustomObject({ ...backups, name: backupName })) as Backup;
    expect(backup.metadata.generateName).toBe("instance-");
    expect(backup.metadata.annotations).toMatchObject({
      "kots.io/instance": "true",
      "kots.io/snapshot-trigger": "manual",
      "kots.io/kotsadm-deploy-namespace": "default",
      "kots.io/apps-sequences": '{"my-app":7}',
      "kots.io/apps-versions": '{"my-app":"2.0.1"}',
      "kots.io/is-airgap": "false",
    });
    expect(backup.spec).toMatchObject({
      includedNamespaces: ["default"],
      orLabelSelectors: [{ matchLabels: { "kots.io/backup": "velero" } }],
      includeClusterResources: true,
      storageLocation: "default",
      ttl: "720h0m0s",
    });

    const phases: string[] = [];
    let completed!: () => void;
    const done = new Promise<void>((resolve) => {
      completed = resolve;
    });
    const watch = await new k8s.Watch(sa.kc).watch(
      "/apis/velero.io/v1/namespaces/velero/backups",
      { fieldSelector: `metadata.name=${backupName}` },
      (_type, object: Backup) => {
        const phase = object.status?.phase ?? "New";
        if (phases.at(-1) !== phase) phases.push(phase);
        if (phase === "Completed") completed();
      },
      () => {},
    );
    await sandbox.clock.advance(60_000);
    await done;
    watch.abort();
    expect(phases.at(-1)).toBe("Completed");
    expect(phases).toContain("InProgress");
    expect(phases).toContain("Finalizing");
    const final = (await sa.custom.getNamespacedCustomObject({ ...backups, name: backupName })) as Backup;
    expect(final.metadata.labels?.["velero.io/storage-location"]).toBe("default");
    expect(sandbox.kotsadm.backupRequestCount()).toBe(1);
  });

  it("answers an app backup without backupName; the Backup is found by kots.io/app-id", async () => {
    const response = await post("/api/v1/app/my-app/snapshot/backup");
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ success: true });

    const apps = (await (await get("/api/v1/apps")).json()) as { apps: { id: string; slug: string }[] };
    const appId = apps.apps.find((a) => a.slug === "my-app")!.id;
    const list = (await sa.custom.listNamespacedCustomObject(backups)) as { items: Backup[] };
    const mine = list.items.filter((b) => b.metadata.annotations?.["kots.io/app-id"] === appId);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.metadata.name).toMatch(/^my-app-[a-z0-9]{5}$/);
    expect(mine[0]!.metadata.annotations["kots.io/instance"]).toBeUndefined();
    expect(mine[0]!.spec.labelSelector).toEqual({ matchLabels: { "kots.io/app-slug": "my-app" } });
  });

  it("lists instance snapshots unsorted, only for its own kotsadm namespace", async () => {
    for (let i = 0; i < 8; i++) {
      await sandbox.scenario.addBackup({
        name: `instance-old${i}`,
        startedAt: new Date(Date.UTC(2026, 10, 1 + i)),
        writeArtifacts: false,
      });
    }
    await sandbox.scenario.addBackup({
      name: "instance-elsewhere",
      kotsadmNamespace: "other-kots",
      writeArtifacts: false,
    });
    await sandbox.scenario.addBackup({ name: "nightly-velero", kind: "other", writeArtifacts: false });
    const { backups: listed } = (await (await get("/api/v1/snapshots")).json()) as {
      backups: { name: string; status: string }[];
    };
    const names = listed.map((b) => b.name);
    expect(names).not.toContain("instance-elsewhere");
    expect(names).not.toContain("nightly-velero");
    expect(names.filter((n) => n.startsWith("instance-old"))).toHaveLength(8);
    const byName = [...names].sort();
    const byNameDescending = [...byName].reverse();
    expect(names).not.toEqual(byName);
    expect(names).not.toEqual(byNameDescending);
  });

  it("rejects a wrong auth string with 401 on session routes", async () => {
    expect((await post("/api/v1/snapshot/backup", "Kots wrong")).status).toBe(401);
    expect((await get("/api/v1/snapshots", "")).status).toBe(401);
  });

  it("downloads the app archive, and gives an empty 200 for a bad token and 404 for an unknown slug", async () => {
    const archive = await get("/api/v1/download?slug=my-app");
    expect(archive.status).toBe(200);
    expect(archive.headers.get("content-type")).toBe("application/gzip");
    const files = await readTarGz(Buffer.from(await archive.arrayBuffer()));
    const names = [...files.keys()];
    for (const tree of ["upstream/", "base/", "overlays/"])
      expect(names.some((n) => n.startsWith(tree))).toBe(true);

    const badToken = await get("/api/v1/download?slug=my-app", "Kots not-the-secret");
    expect(badToken.status).toBe(200);
    expect((await badToken.arrayBuffer()).byteLength).toBe(0);
    expect((await get("/api/v1/download?slug=no-such-app")).status).toBe(404);
  });

  it("refuses with 409 when kotsadm lacks Velero access, and 403 for app backups on Embedded Cluster", async () => {
    sandbox.kotsadm.refuseVeleroAccess = true;
    const refused = await post("/api/v1/snapshot/backup");
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      success: false,
      kotsadmNamespace: "default",
      kotsadmRequiresVeleroAccess: true,
    });
    sandbox.kotsadm.refuseVeleroAccess = false;

    sandbox.kotsadm.embeddedCluster = true;
    expect((await post("/api/v1/app/my-app/snapshot/backup")).status).toBe(403);
    sandbox.kotsadm.embeddedCluster = false;
  });

  it("answers an injected 503 with Retry-After, then recovers", async () => {
    const before = sandbox.kotsadm.backupRequestCount();
    sandbox.faults.add({
      target: "kotsadm",
      method: "POST",
      path: "/snapshot/backup",
      status: 503,
      retryAfterSeconds: 30,
      times: 1,
    });
    const refused = await post("/api/v1/snapshot/backup");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    await refused.arrayBuffer();
    expect((await post("/api/v1/snapshot/backup")).status).toBe(200);
    expect(sandbox.kotsadm.backupRequestCount()).toBe(before + 2);
  });

  it("refuses a port-forward to a pod that is not Running", async () => {
    sandbox.scenario.setKotsadmPodPhase("Pending");
    const pods = await sa.core.listNamespacedPod({ namespace: "default", labelSelector: "app=kotsadm" });
    const forward = new k8s.PortForward(sa.kc);
    const { PassThrough } = await import("node:stream");
    const failure = await forward
      .portForward(
        "default",
        pods.items[0]!.metadata!.name!,
        [3000],
        new PassThrough(),
        null,
        new PassThrough(),
      )
      .then(() => "connected")
      .catch(() => "refused");
    expect(failure).toBe("refused");
    sandbox.scenario.setKotsadmPodPhase("Running");
  });

  it("forbids the port-forward when the service account lacks create on pods/portforward", async () => {
    const { readFileSync } = await import("node:fs");
    const { defaultRbacPath } = await import("../k8s/rbac.ts");
    const original = readFileSync(defaultRbacPath, "utf8");
    sandbox.setRbac(original.replace('verbs: ["get", "create"]', 'verbs: ["get"]'));
    const review = await sa.authz.createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            namespace: "default",
            verb: "create",
            resource: "pods",
            subresource: "portforward",
          },
        },
      },
    });
    expect(review.status?.allowed).toBe(false);
    const pods = await sa.core.listNamespacedPod({ namespace: "default", labelSelector: "app=kotsadm" });
    const { PassThrough } = await import("node:stream");
    const outcome = await new k8s.PortForward(sa.kc)
      .portForward(
        "default",
        pods.items[0]!.metadata!.name!,
        [3000],
        new PassThrough(),
        null,
        new PassThrough(),
      )
      .then(() => "connected")
      .catch(() => "refused");
    expect(outcome).toBe("refused");
    sandbox.setRbac(original);
  });
});

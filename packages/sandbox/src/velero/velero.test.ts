// The simulated Velero: phases and queueing on the sandbox clock, uploads to the BSL, DownloadRequests
// with signed URLs, and faults — observed through @kubernetes/client-node and plain fetch of the URLs.
import { gunzipSync } from "node:zlib";
import type * as k8s from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCrds } from "../k8s/crds.ts";
import type { KubeObject } from "../k8s/objects.ts";
import { type Sandbox, startSandbox } from "../sandbox.ts";
import { failureOf, type KubeClients, kubeClients, readTarGz, statusOf } from "../testing/kube-clients.ts";

const velero = { group: "velero.io", version: "v1", namespace: "velero" };
const backups = { ...velero, plural: "backups" };
const downloadRequests = { ...velero, plural: "downloadrequests" };

describe("simulated Velero", () => {
  let sandbox: Sandbox;
  let admin: KubeClients;
  let sa: KubeClients;

  beforeEach(async () => {
    sandbox = await startSandbox();
    admin = kubeClients(sandbox.adminKubeconfigYaml);
    sa = kubeClients(sandbox.kubeconfigYaml);
  });
  afterEach(() => sandbox.stop());

  /** What kotsadm does for POST /api/v1/snapshot/backup, without the port-forward. */
  async function kotsBackup(): Promise<string> {
    const { instanceBackup } = await import("../kotsadm/backup-specs.ts");
    const body = instanceBackup(sandbox.kotsadm.backupContext());
    const created = (await admin.custom.createNamespacedCustomObject({ ...backups, body })) as KubeObject;
    await sandbox.settle();
    return created.metadata.name!;
  }

  const getBackup = async (name: string) =>
    (await sa.custom.getNamespacedCustomObject({ ...backups, name })) as KubeObject;

  async function download(kind: string, name: string): Promise<Response> {
    const request = (await sa.custom.createNamespacedCustomObject({
      ...downloadRequests,
      body: {
        apiVersion: "velero.io/v1",
        kind: "DownloadRequest",
        metadata: { generateName: `${name}-` },
        spec: { target: { kind, name } },
      },
    })) as KubeObject;
    await sandbox.settle();
    const processed = (await sa.custom.getNamespacedCustomObject({
      ...downloadRequests,
      name: request.metadata.name!,
    })) as KubeObject;
    expect(processed.status?.phase).toBe("Processed");
    return fetch(processed.status!.downloadURL);
  }

  it("exports a Completed backup's tarball through a DownloadRequest, in the 1.1.0 layout", async () => {
    const name = await kotsBackup();
    await sandbox.clock.advance(60_000);
    expect((await getBackup(name)).status?.phase).toBe("Completed");

    const response = await download("BackupContents", name);
    expect(response.status).toBe(200);
    const files = await readTarGz(Buffer.from(await response.arrayBuffer()));
    const entries = [...files.keys()];
    expect(entries[0]).toBe("metadata/version");
    expect(files.get("metadata/version")!.toString()).toBe("1.1.0\n");
    expect(entries).toContain("resources/namespaces/cluster/default.json");
    expect(entries).toContain("resources/namespaces/v1-preferredversion/cluster/default.json");
    expect(entries).toContain("resources/secrets/namespaces/default/kotsadm-authstring.json");
    expect(
      entries.some((e) => /^resources\/deployments\.apps\/namespaces\/default\/kotsadm\.json$/.test(e)),
    ).toBe(true);
    const pattern =
      /^resources\/[^/]+\/((v[^/]+(-preferredversion)?)\/)?(cluster\/[^/]+\.json|namespaces\/[^/]+\/[^/]+\.json)$/;
    for (const entry of entries.filter((e) => e.startsWith("resources/"))) {
      expect(entry).toMatch(pattern);
      const item = JSON.parse(files.get(entry)!.toString());
      expect(item).toHaveProperty("apiVersion");
      expect(item).toHaveProperty("kind");
      expect(item.metadata.name).toBeTruthy();
    }

    const log = await download("BackupLog", name);
    expect(gunzipSync(Buffer.from(await log.arrayBuffer())).toString()).toContain("Backed up a total of");
  });

  it("writes every object it creates in a shape the CRDs accept", async () => {
    const crds = loadCrds();
    sandbox.velero.scriptNext(
      { outcome: "PartiallyFailed", pluginOperationsMs: 5_000 },
      { outcome: "Failed" },
    );
    const names = [await kotsBackup(), await kotsBackup(), await kotsBackup()];
    await sandbox.clock.advance(10 * 60_000);
    await download("BackupResults", names[0]!);
    await admin.custom.createNamespacedCustomObject({
      ...velero,
      plural: "deletebackuprequests",
      body: {
        apiVersion: "velero.io/v1",
        kind: "DeleteBackupRequest",
        metadata: { name: "gone" },
        spec: { backupName: "gone" },
      },
    });
    await sandbox.settle();
    const phases = await Promise.all(names.map(async (n) => (await getBackup(n)).status?.phase));
    expect(phases).toEqual(["PartiallyFailed", "Failed", "Completed"]);
    const checked: string[] = [];
    for (const plural of ["backups", "backupstoragelocations", "downloadrequests", "deletebackuprequests"]) {
      const list = (await admin.custom.listNamespacedCustomObject({ ...velero, plural })) as {
        items: KubeObject[];
      };
      const type = crds.types.find((t) => t.plural === plural)!;
      for (const item of list.items) {
        expect(() => crds.validate(type, item)).not.toThrow();
        checked.push(`${plural}/${item.metadata.name}`);
      }
    }
    expect(checked.filter((c) => c.startsWith("backups/"))).toHaveLength(3);
    const backupType = crds.types.find((t) => t.plural === "backups")!;
    for await (const info of sandbox.store.list("backups/")) {
      if (!info.key.endsWith("velero-backup.json")) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await sandbox.store.get(info.key)) chunks.push(chunk as Buffer);
      expect(() => crds.validate(backupType, JSON.parse(Buffer.concat(chunks).toString()))).not.toThrow();
    }
  });

  it("runs one backup at a time: the others wait in Queued with a queue position", async () => {
    const first = await kotsBackup();
    const second = await kotsBackup();
    const third = await kotsBackup();
    expect((await getBackup(first)).status?.phase).toBe("InProgress");
    expect((await getBackup(second)).status).toMatchObject({ phase: "Queued", queuePosition: 1 });
    expect((await getBackup(third)).status).toMatchObject({ phase: "Queued", queuePosition: 2 });

    await sandbox.clock.advance(30_000);
    expect((await getBackup(first)).status?.phase).toBe("Completed");
    expect((await getBackup(second)).status?.phase).toBe("InProgress");
    expect((await getBackup(third)).status).toMatchObject({ phase: "Queued", queuePosition: 1 });
  });

  it("holds the queue behind a stuck backup", async () => {
    sandbox.velero.scriptNext({ outcome: "Stuck" });
    const stuck = await kotsBackup();
    const waiting = await kotsBackup();
    await sandbox.clock.advance(6 * 3600_000);
    expect((await getBackup(stuck)).status?.phase).toBe("InProgress");
    expect((await getBackup(waiting)).status?.phase).toBe("Queued");
  });

  it("sets the status fields the real controller sets, with scripted outcomes and durations", async () => {
    sandbox.velero.scriptNext({ outcome: "PartiallyFailed", durationMs: 120_000, errors: 2, warnings: 3 });
    const name = await kotsBackup();
    await sandbox.clock.advance(119_000);
    expect((await getBackup(name)).status?.phase).toBe("InProgress");
    await sandbox.clock.advance(1_000);
    const backup = await getBackup(name);
    expect(backup.status).toMatchObject({
      phase: "PartiallyFailed",
      formatVersion: "1.1.0",
      startTimestamp: "2026-11-23T12:00:00Z",
      completionTimestamp: "2026-11-23T12:02:00Z",
      expiration: "2026-12-23T12:00:00Z",
      errors: 2,
      warnings: 3,
    });
    expect(backup.metadata.annotations?.["velero.io/source-cluster-k8s-major-version"]).toBe("1");
  });

  it("fails validation when the BSL is Unavailable", async () => {
    sandbox.velero.setBslPhase("Unavailable");
    const name = await kotsBackup();
    const backup = await getBackup(name);
    expect(backup.status?.phase).toBe("FailedValidation");
    expect(backup.status?.validationErrors?.[0]).toContain("Unavailable");
    const bsl = (await sa.custom.getNamespacedCustomObject({
      ...velero,
      plural: "backupstoragelocations",
      name: "default",
    })) as KubeObject;
    expect(bsl.status?.phase).toBe("Unavailable");
  });

  it("grows the Kopia repository incrementally: shared blobs once, new packs per backup", async () => {
    const kopiaKeys = async () => {
      const keys: string[] = [];
      for await (const info of sandbox.store.list("kopia/default/")) keys.push(info.key);
      return keys;
    };
    await kotsBackup();
    await sandbox.clock.advance(60_000);
    const afterFirst = await kopiaKeys();
    await kotsBackup();
    await sandbox.clock.advance(60_000);
    const afterSecond = await kopiaKeys();
    expect(afterFirst).toContain("kopia/default/kopia.repository");
    expect(afterSecond.length).toBeGreaterThan(afterFirst.length);
    expect(afterSecond).toEqual(expect.arrayContaining(afterFirst));
  });

  it("signs URLs that expire 10 minutes later on the sandbox clock, and rejects a tampered signature", async () => {
    const name = await kotsBackup();
    await sandbox.clock.advance(60_000);
    const request = (await sa.custom.createNamespacedCustomObject({
      ...downloadRequests,
      body: {
        apiVersion: "velero.io/v1",
        kind: "DownloadRequest",
        metadata: { name: `${name}-dl` },
        spec: { target: { kind: "BackupContents", name } },
      },
    })) as KubeObject;
    await sandbox.settle();
    const processed = (await sa.custom.getNamespacedCustomObject({
      ...downloadRequests,
      name: request.metadata.name!,
    })) as KubeObject;
    expect(processed.status?.expiration).toBe("2026-11-23T12:11:00Z");
    const url: string = processed.status!.downloadURL;
    expect((await fetch(url.replace(/signature=[0-9a-f]{4}/, "signature=0000"))).status).toBe(403);
    await sandbox.clock.advance(10 * 60_000 + 1_000);
    expect((await fetch(url)).status).toBe(403);
  });

  it("never processes DownloadRequests when told so, or when the backup does not exist", async () => {
    sandbox.velero.processDownloadRequests = false;
    const name = await kotsBackup();
    await sandbox.clock.advance(60_000);
    for (const target of [name, "no-such-backup"]) {
      const request = (await sa.custom.createNamespacedCustomObject({
        ...downloadRequests,
        body: {
          apiVersion: "velero.io/v1",
          kind: "DownloadRequest",
          metadata: { generateName: "dl-" },
          spec: { target: { kind: "BackupContents", name: target } },
        },
      })) as KubeObject;
      await sandbox.clock.advance(60_000);
      const current = (await sa.custom.getNamespacedCustomObject({
        ...downloadRequests,
        name: request.metadata.name!,
      })) as KubeObject;
      expect(current.status?.downloadURL).toBeUndefined();
      sandbox.velero.processDownloadRequests = true;
    }
  });

  it("injects faults: 429 with Retry-After on the API, truncated and corrupted downloads", async () => {
    sandbox.faults.add({
      target: "api",
      method: "GET",
      path: "/backups",
      status: 429,
      retryAfterSeconds: 7,
      times: 1,
    });
    const throttled = await sa.custom
      .listNamespacedCustomObject(backups)
      .catch((e: k8s.ApiException<string>) => e);
    expect(statusOf(throttled)).toMatchObject({ code: 429, reason: "TooManyRequests" });
    expect((throttled as k8s.ApiException<string>).headers["retry-after"]).toBe("7");
    await sa.custom.listNamespacedCustomObject(backups);

    const name = await kotsBackup();
    await sandbox.clock.advance(60_000);
    sandbox.faults.add({ target: "download", truncateAfterBytes: 100, times: 1 });
    const truncated = await download("BackupContents", name)
      .then((r) => r.arrayBuffer())
      .then(
        () => "complete",
        () => "cut",
      );
    expect(truncated).toBe("cut");
    sandbox.faults.add({ target: "download", drop: true, times: 1 });
    await expect(download("BackupContents", name)).rejects.toThrow();
    sandbox.faults.add({ target: "download", corrupt: true, times: 1 });
    const corrupted = Buffer.from(await (await download("BackupContents", name)).arrayBuffer());
    await expect(readTarGz(corrupted)).rejects.toThrow();
  });

  it("deletes a backup's data and CR through a DeleteBackupRequest", async () => {
    const name = await kotsBackup();
    await sandbox.clock.advance(60_000);
    await admin.custom.createNamespacedCustomObject({
      ...velero,
      plural: "deletebackuprequests",
      body: {
        apiVersion: "velero.io/v1",
        kind: "DeleteBackupRequest",
        metadata: { name },
        spec: { backupName: name },
      },
    });
    await sandbox.settle();
    expect(await sandbox.store.head(`backups/${name}/velero-backup.json`)).toBeUndefined();
    expect((await failureOf(getBackup(name))).code).toBe(404);
  });

  it("preloads thousands of backups quickly", async () => {
    await sandbox.scenario.addBackups(2000, (i) => ({
      name: `bulk-${String(i).padStart(4, "0")}`,
      kind: i % 2 ? "instance" : "other",
    }));
    const pairs = await sandbox.scenario.addImprovedDrPair({ appSlug: "my-app" });
    const list = (await sa.custom.listNamespacedCustomObject(backups)) as { items: KubeObject[] };
    expect(list.items).toHaveLength(2002);
    const label = pairs[0]!.metadata.labels!["replicated.com/backup-name"];
    const pair = (await sa.custom.listNamespacedCustomObject({
      ...backups,
      labelSelector: `replicated.com/backup-name=${label}`,
    })) as {
      items: KubeObject[];
    };
    expect(pair.items.map((b) => b.metadata.annotations?.["replicated.com/backup-type"]).sort()).toEqual([
      "app",
      "infra",
    ]);
  });
});

// Restore, proven against the real engine: etcd + kube-apiserver v1.36 and Velero v1.18.1 with its AWS
// plugin, on MinIO (test/support/real-cluster.ts; built by scripts/peers/build-real-peers.sh).
//
//   source cluster  an app's objects; `kots-backup backup` asks kotsadm (port-forward through the
//                   apiserver), kotsadm creates the instance Backup (the app's own Backup resource
//                   merged in, as kots does) → real Velero writes it to MinIO;
//   export          `kots-backup export <name> --scope full` from the BSL bucket to s3://exports/kb;
//   DR cluster      a second apiserver + Velero; README's Restore steps as written: its credentials
//                   Secret and ReadOnly BSL YAML on `<p>/velero` → `velero backup get` lists the backup
//                   after Velero's sync → `velero restore create --from-backup … --wait` → Completed →
//                   the restored objects equal the originals (specs, ConfigMap and Secret data, labels).
// This is the disaster-recovery procedure of README and docs/restore.md, step by step. The offline drill
// (`kots-backup drill`) passes on the real export and refuses a damaged copy before Velero is asked.
//
// kotsadm is the project's simulation (test/support/real-kotsadm.ts), reached as a real one is: a
// port-forward through the real apiserver to its pod, whose node's kubelet serves port-forward only.

import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  apply,
  type Kube,
  MINIO_BIN,
  MINIO_CREDENTIALS,
  type Minio,
  realPeersBuilt,
  scratch,
  startKube,
  startMinio,
  startVelero,
  type Velero,
  veleroCli,
} from "../support/real-cluster.ts";
import { cli, until } from "../support/real-dr.ts";
import { type RealKotsadm, startRealKotsadm } from "../support/real-kotsadm.ts";

const APP_NS = "my-app";
const KOTSADM_NS = "default";
const BACKUP_LABEL = { "kots.io/backup": "velero" };
/** The app's own Backup resource, which kotsadm merges into the instance backup. */
const VENDOR_BACKUP = {
  annotations: { "vendor.example.com/owner": "web-team" },
  spec: {
    orLabelSelectors: [{ matchLabels: { "backup.example.com/include": "true" } }],
    excludedResources: ["configmaps"], // ignored by kotsadm for instance backups
    hooks: {
      resources: [
        {
          name: "flush-cache",
          includedNamespaces: [APP_NS],
          labelSelector: { matchLabels: { app: "cache" } }, // no such pod: the hook runs nowhere
          pre: [
            { exec: { container: "cache", command: ["/bin/sync"], onError: "Continue", timeout: "30s" } },
          ],
        },
      ],
    },
  },
};

/** A token for the ServiceAccount default/kots-backup, as the apiserver would authenticate it. */
const SERVICE_ACCOUNT = {
  token: randomBytes(24).toString("hex"),
  user: "system:serviceaccount:default:kots-backup",
  groups: ["system:serviceaccounts", "system:serviceaccounts:default"],
};

/** README's ReadOnly BackupStorageLocation for an export (its "Restore" YAML), pointed at `where`. */
function readmeBsl(where: { bucket: string; prefix: string; s3Url: string }): KubernetesObject {
  const readme = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Restore"));
  const yamlText = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (!yamlText) throw new Error("README's Restore section has no BackupStorageLocation YAML");
  const bsl = parseAllDocuments(yamlText)[0]?.toJSON();
  expect(bsl).toMatchObject({ kind: "BackupStorageLocation", spec: { accessMode: "ReadOnly" } });
  bsl.spec.objectStorage = { bucket: where.bucket, prefix: where.prefix };
  bsl.spec.config = { region: "us-east-1", s3Url: where.s3Url, s3ForcePathStyle: "true" };
  return bsl;
}

/** deploy/rbac.yaml's objects (kotsadm in `default`, Velero in `velero`: the file's own namespaces). */
function shippedRbac(): KubernetesObject[] {
  const text = readFileSync(resolve(import.meta.dirname, "../../deploy/rbac.yaml"), "utf8");
  return parseAllDocuments(text).map((doc) => doc.toJSON() as KubernetesObject);
}

/** The app's objects, as a KOTS app labels them for instance backups. */
function appObjects(): KubernetesObject[] {
  const labels = { ...BACKUP_LABEL, app: "web", tier: "frontend" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: APP_NS, labels: BACKUP_LABEL } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "web-config", namespace: APP_NS, labels },
      data: { "settings.yaml": "replicas: 2\nfeature: on\n", LOG_LEVEL: "debug" },
    } as KubernetesObject,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "web-secret", namespace: APP_NS, labels },
      type: "Opaque",
      data: { password: Buffer.from("s3cr3t-\u00e9\n").toString("base64") },
    } as KubernetesObject,
    // Selected only by the app's own Backup resource (its orLabelSelectors), not by kots.io/backup.
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "vendor-extra", namespace: APP_NS, labels: { "backup.example.com/include": "true" } },
      data: { note: "backed up because the vendor's Backup asks for it" },
    } as KubernetesObject,
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: APP_NS, labels },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            containers: [{ name: "web", image: "nginx:1.27", env: [{ name: "MODE", value: "prod" }] }],
          },
        },
      },
    } as KubernetesObject,
  ];
}

async function read(kube: Kube, kind: string, apiVersion: string, name: string, namespace: string) {
  return (await kube.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as Record<
    string,
    // biome-ignore lint/suspicious/noExplicitAny: compared field by field below
    any
  >;
}

const minioClient = (minio: Minio) =>
  new S3Client({
    endpoint: minio.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: MINIO_CREDENTIALS,
  });

describe.skipIf(!realPeersBuilt())("restore against real Kubernetes and Velero", () => {
  const tmp = scratch("kb-real-");
  let minio: Minio;
  let source: Kube;
  let dr: Kube;
  let kotsadm: RealKotsadm;
  const veleros: Velero[] = [];

  /** A config for the source cluster exporting to `destination` on MinIO (credentials by env: reference). */
  function writeConfig(destination: string): string {
    process.env["KB_REAL_MINIO_KEY"] = MINIO_CREDENTIALS.accessKeyId;
    process.env["KB_REAL_MINIO_SECRET"] = MINIO_CREDENTIALS.secretAccessKey;
    const credentials = { accessKeyId: "env:KB_REAL_MINIO_KEY", secretAccessKey: "env:KB_REAL_MINIO_SECRET" };
    const path = join(tmp.dir, `kots-backup-${destination.replace(/\W+/g, "-")}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        cluster: { name: "real", kubeconfig: source.kubeconfigFor("kots-backup", SERVICE_ACCOUNT.token) },
        export: {
          destination,
          endpoint: minio.endpoint,
          forcePathStyle: true,
          credentials,
          bsl: { endpoint: minio.endpoint, credentials },
          scope: "full",
        },
      }),
    );
    return path;
  }

  beforeAll(async () => {
    minio = await startMinio(MINIO_BIN);
    const s3 = minioClient(minio);
    for (const bucket of ["velero-src", "velero-dr", "exports"])
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    [source, dr] = await Promise.all([
      startKube(join(tmp.dir, "source"), [SERVICE_ACCOUNT]),
      startKube(join(tmp.dir, "dr")),
    ]);
    veleros.push(
      ...(await Promise.all([
        startVelero(source, join(tmp.dir, "source-velero"), {
          bucket: "velero-src",
          endpoint: minio.endpoint,
        }),
        // The DR cluster's Velero has a location of its own; the export's comes from README's steps.
        startVelero(dr, join(tmp.dir, "dr-velero"), { bucket: "velero-dr", endpoint: minio.endpoint }),
      ])),
    );
    // kots-backup runs as the service account of deploy/rbac.yaml, applied as shipped: real RBAC
    // (pods/portforward needs get and create) judges the manifest.
    await apply(source, shippedRbac());
    kotsadm = await startRealKotsadm(source, {
      namespace: KOTSADM_NS,
      veleroNamespace: "velero",
      apps: [
        {
          id: "app-1",
          slug: "my-app",
          name: "My App",
          sequence: 3,
          versionLabel: "1.4.2",
          namespace: APP_NS,
          backup: VENDOR_BACKUP,
        },
      ],
    });
  }, 300_000);

  afterAll(async () => {
    await kotsadm?.stop();
    for (const velero of veleros) await velero.stop();
    await Promise.all([source?.stop(), dr?.stop()]);
    await minio?.stop();
    tmp.remove();
  });

  it("backup → export (full scope) → DR sync → Restore Completed → the objects equal the originals", async () => {
    await apply(source, appObjects());
    const configPath = writeConfig("s3://exports/kb");

    // kots-backup backup: kotsadm over a port-forward through the apiserver; kotsadm creates the
    // Backup and real Velero executes it; the command follows it to Completed.
    const backedUp = await cli(["backup", "--json", "--config", configPath]);
    expect(backedUp.code, backedUp.stderr + backedUp.stdout).toBe(0);
    const { name, phase } = JSON.parse(backedUp.stdout);
    expect(phase).toBe("Completed");
    expect(kotsadm.kotsadm.backupRequestCount()).toBe(1);
    const completed = await read(source, "Backup", "velero.io/v1", name, "velero");
    expect(completed.metadata.annotations).toMatchObject({
      "kots.io/instance": "true",
      "kots.io/kotsadm-deploy-namespace": KOTSADM_NS,
      "vendor.example.com/owner": "web-team",
    });
    expect(completed.spec.hooks.resources).toEqual([expect.objectContaining({ name: "flush-cache" })]);
    expect(completed.status.progress.itemsBackedUp).toBeGreaterThanOrEqual(5);

    // The app config (`kubectl kots download`), streamed through the same port-forward.
    const downloaded = await cli(["config-download", "--app", "my-app", "--json", "--config", configPath]);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(JSON.parse(downloaded.stdout)).toMatchObject({ app: "my-app", bytes: expect.any(Number) });
    expect(JSON.parse(downloaded.stdout).bytes).toBeGreaterThan(0);

    // kots-backup export, full scope: the BSL is read directly with the configured credentials.
    const exported = await cli(["export", name, "--json", "--config", configPath]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ backup: name, scope: "full" });

    // The offline drill reads the real Velero export as a restore would (its resource list included).
    const drilled = await cli(["drill", "--json", "--config", configPath]);
    expect(drilled.code, drilled.stderr).toBe(0);
    expect(JSON.parse(drilled.stdout).results).toEqual([expect.objectContaining({ backup: name, ok: true })]);

    // In the DR cluster, README's "Restore" steps as written: its credentials Secret and its
    // BackupStorageLocation YAML (bucket, prefix and config set for this MinIO) ...
    await apply(dr, [
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "kots-backup-export-credentials", namespace: "velero" },
        stringData: {
          cloud: `[default]\naws_access_key_id=${MINIO_CREDENTIALS.accessKeyId}\naws_secret_access_key=${MINIO_CREDENTIALS.secretAccessKey}\n`,
        },
      } as KubernetesObject,
      readmeBsl({ bucket: "exports", prefix: "kb/velero", s3Url: minio.endpoint }),
    ]);
    // ... `velero backup get` lists the export once Velero's sync ran (a one-minute timer in v1.18.1) ...
    await until(
      `the DR Velero to sync ${name}`,
      async () => {
        const listed = JSON.parse(veleroCli(dr, ["backup", "get", name, "-o", "json"]));
        return listed.status?.phase === "Completed" ? true : undefined;
      },
      150_000,
    );
    // ... `velero restore create --from-backup`, here for the app's namespace, waiting for the end.
    veleroCli(dr, [
      "restore",
      "create",
      `${name}-drill`,
      "--from-backup",
      name,
      "--include-namespaces",
      APP_NS,
      "--wait",
    ]);
    const restore = await read(dr, "Restore", "velero.io/v1", `${name}-drill`, "velero");
    expect(restore.status.phase, JSON.stringify(restore.status)).toBe("Completed");

    await expectRestoredEqual(source, dr);
  }, 600_000);

  it("refuses a damaged export in the drill, before any Velero is asked", async () => {
    // A copy of the export whose tarball lost bytes: every other object intact.
    const s3 = minioClient(minio);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "exports", Prefix: "kb/" }));
    for (const object of listed.Contents ?? []) {
      const key = object.Key as string;
      const body = await (
        await s3.send(new GetObjectCommand({ Bucket: "exports", Key: key }))
      ).Body?.transformToByteArray();
      const damaged =
        key.endsWith(".tar.gz") && key.includes("/backups/") ? body?.slice(0, body.length - 64) : body;
      await s3.send(
        new PutObjectCommand({ Bucket: "exports", Key: key.replace(/^kb\//, "kb-damaged/"), Body: damaged }),
      );
    }
    const configPath = writeConfig("s3://exports/kb-damaged");
    const drilled = await cli(["drill", "--json", "--config", configPath]);
    expect(drilled.code).toBe(1);
    const [result] = JSON.parse(drilled.stdout).results;
    expect(result).toMatchObject({ ok: false, cause: expect.stringContaining(".tar.gz") });
  });
});

/** Each app object in the DR cluster equals the source's: labels (but Velero's own), data, spec. */
async function expectRestoredEqual(source: Kube, dr: Kube): Promise<void> {
  for (const original of appObjects().filter((o) => o.kind !== "Namespace")) {
    const { kind, apiVersion } = original;
    const objectName = original.metadata?.name as string;
    const before = await read(source, kind as string, apiVersion as string, objectName, APP_NS);
    const after = await read(dr, kind as string, apiVersion as string, objectName, APP_NS);
    const {
      "velero.io/backup-name": _b,
      "velero.io/restore-name": _r,
      ...restoredLabels
    } = after.metadata.labels;
    expect(restoredLabels, `${kind} ${objectName} labels`).toEqual(before.metadata.labels);
    for (const field of ["data", "spec", "type"]) {
      if (field === "spec" && kind === "Deployment") {
        expect(after.spec.template, `${kind} ${objectName} template`).toEqual(before.spec.template);
        expect(after.spec.selector).toEqual(before.spec.selector);
        expect(after.spec.replicas).toEqual(before.spec.replicas);
      } else {
        expect(after[field], `${kind} ${objectName} ${field}`).toEqual(before[field]);
      }
    }
  }
}

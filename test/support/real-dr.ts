// A source cluster and a DR cluster on the real peers (real-cluster.ts), for restore drills: the source's
// Velero backs up to MinIO, `kots-backup export --scope full` copies the backup to s3://exports/kb, and
// the DR cluster's Velero reads `kb/velero` as a ReadOnly BSL (as docs/restore.md sets one up). The
// Backup is created with the sandbox's kotsadm spec builder, exactly as kotsadm creates an instance
// backup (test/restore/real-restore.test.ts does the same).
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import "@kots-backup/cli/commands/index";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "@kots-backup/cli/program";
import { instanceBackup } from "@kots-backup/sandbox/kotsadm/backup-specs";
import type { KubernetesObject } from "@kubernetes/client-node";
import { captureStreams } from "../backup/support.ts";
import {
  apply,
  type Kube,
  MINIO_BIN,
  MINIO_CREDENTIALS,
  type Minio,
  startKube,
  startMinio,
  startVelero,
  type Velero,
} from "./real-cluster.ts";

export const APP_NS = "my-app";
const KOTSADM_NS = "default";
const BACKUP_LABEL = { "kots.io/backup": "velero" };

/** The app's objects, as a KOTS app labels them for instance backups. */
export function appObjects(): KubernetesObject[] {
  const labels = { ...BACKUP_LABEL, app: "web" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: APP_NS, labels: BACKUP_LABEL } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "web-config", namespace: APP_NS, labels },
      data: { "settings.yaml": "replicas: 2\n" },
    } as KubernetesObject,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "web-secret", namespace: APP_NS, labels },
      type: "Opaque",
      data: { password: Buffer.from("s3cr3t").toString("base64") },
    } as KubernetesObject,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: APP_NS, labels },
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
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
          spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
        },
      },
    } as KubernetesObject,
  ];
}

/** Polls `probe` (errors count as "not yet") until it answers, or fails after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs the CLI in-process. */
export async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** An object read back as plain JSON, or undefined when it does not exist. */
export async function readObject(
  kube: Kube,
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
  // biome-ignore lint/suspicious/noExplicitAny: tests read fields as they need them
): Promise<Record<string, any> | undefined> {
  try {
    return (await kube.objects.read({
      apiVersion,
      kind,
      metadata: { name, ...(namespace ? { namespace } : {}) },
    })) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export interface DrPair {
  minio: Minio;
  s3: S3Client;
  source: Kube;
  dr: Kube;
  /** The source Backup, exported to s3://exports/kb (full scope). */
  backup: string;
  /** A kots-backup config for the source cluster and the export (add `drill` to it). */
  config: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * Starts MinIO, a source and a DR cluster with their Veleros, backs the app up in the source and exports
 * it with `kots-backup export`. `drTokens` are extra identities of the DR apiserver.
 */
export async function startDrPair(
  dir: string,
  drTokens: Array<{ token: string; user: string; groups?: string[] }> = [],
): Promise<DrPair> {
  const minio = await startMinio(MINIO_BIN);
  const s3 = new S3Client({
    endpoint: minio.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: MINIO_CREDENTIALS,
  });
  for (const bucket of ["velero-src", "exports"]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const [source, dr] = await Promise.all([
    startKube(join(dir, "source")),
    startKube(join(dir, "dr"), drTokens),
  ]);
  const veleros: Velero[] = await Promise.all([
    startVelero(source, join(dir, "source-velero"), { bucket: "velero-src", endpoint: minio.endpoint }),
    startVelero(dr, join(dir, "dr-velero"), {
      bucket: "exports",
      prefix: "kb/velero",
      endpoint: minio.endpoint,
      accessMode: "ReadOnly",
    }),
  ]);
  const stop = async () => {
    for (const velero of veleros) await velero.stop();
    await Promise.all([source.stop(), dr.stop()]);
    await minio.stop();
  };
  try {
    await apply(source, appObjects());
    const created = await source.objects.create(
      instanceBackup({
        kotsadmNamespace: KOTSADM_NS,
        veleroNamespace: "velero",
        kotsadmImage: "kotsadm/kotsadm:v1.124.0",
        apps: [
          {
            id: "app-1",
            slug: "my-app",
            name: "My App",
            sequence: 1,
            versionLabel: "1.0.0",
            namespace: APP_NS,
          },
        ],
        trigger: "manual",
        requestedAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      }) as KubernetesObject,
    );
    const backup = created.metadata?.name as string;
    await until(
      `Backup ${backup} to complete`,
      async () => {
        const phase = (await readObject(source, "velero.io/v1", "Backup", backup, "velero"))?.status?.phase;
        if (["Failed", "FailedValidation", "PartiallyFailed"].includes(phase))
          throw new Error(`Backup ${backup} ended ${phase}`);
        return phase === "Completed" ? true : undefined;
      },
      120_000,
    );
    // Credentials by env reference, as a config file holds them.
    process.env["KB_DR_MINIO_KEY"] = MINIO_CREDENTIALS.accessKeyId;
    process.env["KB_DR_MINIO_SECRET"] = MINIO_CREDENTIALS.secretAccessKey;
    const credentials = { accessKeyId: "env:KB_DR_MINIO_KEY", secretAccessKey: "env:KB_DR_MINIO_SECRET" };
    const config = {
      cluster: { name: "real", kubeconfig: source.kubeconfigPath },
      export: {
        destination: "s3://exports/kb",
        endpoint: minio.endpoint,
        forcePathStyle: true,
        credentials,
        bsl: { endpoint: minio.endpoint, credentials },
        scope: "full",
      },
    };
    const configPath = join(dir, "export-config.json");
    writeFileSync(configPath, JSON.stringify(config));
    const exported = await cli(["export", backup, "--json", "--config", configPath]);
    if (exported.code !== 0) throw new Error(`export failed (${exported.code}): ${exported.stderr}`);
    return { minio, s3, source, dr, backup, config, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

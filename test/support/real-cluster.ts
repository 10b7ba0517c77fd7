// Real Kubernetes and Velero as test peers: etcd, kube-apiserver, Velero with its AWS plugin and MinIO,
// built from the Go module proxy by scripts/peers/build-real-peers.sh into .peers/real/, run here as
// plain processes on 127.0.0.1 (no nodes: resource backups and restores only).
// - kube-apiserver: token auth (an admin token in system:masters), RBAC, a throw-away CA, no endpoint
//   reconciler; no real nodes (a minimal kubelet serves port-forward: test/support/real-kotsadm.ts).
// - Velero: out of cluster (`velero server --kubeconfig`), its CRDs from `velero install --crds-only`,
//   a BSL on MinIO, its own TMPDIR (it writes credentials there) and a placeholder `velero` Deployment
//   with 0 replicas (the restore's pod-volume step reads its image).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateTls, type TlsMaterial } from "@kots-backup/sandbox/tls";
import { CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { freePort, MINIO_CREDENTIALS } from "../../bench/minio.ts";

const ROOT = resolve(import.meta.dirname, "../..");
export const PEERS_DIR = join(ROOT, ".peers", "real");
const bin = (name: string) => join(PEERS_DIR, name);
const PEERS = ["etcd", "kube-apiserver", "velero", "velero-plugin-for-aws", "minio"];

// MinIO is the benchmark's (bench/minio.ts: one pin, one way to start it).
export { MINIO_BIN, MINIO_CREDENTIALS, type Minio, startMinio } from "../../bench/minio.ts";

/** True when every real peer binary is built (scripts/peers/build-real-peers.sh). */
export function realPeersBuilt(): boolean {
  return PEERS.every((name) => existsSync(bin(name)));
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** The test process's environment without AWS_* (the moto peer's credentials would outrank Velero's BSL credentials). */
function peerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("AWS_")));
  return { ...env, ...extra };
}

function run(name: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(bin(name), args, {
    env: peerEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `ready` until it holds; fails with the process output when the process exits or `ms` passes. */
async function waitFor(what: string, proc: Proc, ready: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.child.exitCode !== null)
      throw new Error(`${what} exited (${proc.child.exitCode}):\n${proc.output()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready in ${ms / 1000} s:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Kube {
  apiUrl: string;
  caPem: string;
  /** The apiserver's CA and 127.0.0.1 serving certificate (a kubelet on loopback may serve with it too). */
  tls: TlsMaterial;
  adminToken: string;
  /** An admin kubeconfig file (token auth). */
  kubeconfigPath: string;
  kubeconfig: KubeConfig;
  objects: KubernetesObjectApi;
  /** Writes a kubeconfig for another token (e.g. a service account with RBAC). */
  kubeconfigFor(user: string, token: string): string;
  stop(): Promise<void>;
}

/** etcd + kube-apiserver on loopback, with static tokens: `admin` (system:masters) and any `extraTokens`. */
export async function startKube(
  dir: string,
  extraTokens: Array<{ token: string; user: string; groups?: string[] }> = [],
): Promise<Kube> {
  mkdirSync(dir, { recursive: true });
  const [clientPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = run("etcd", [
    "--data-dir",
    join(dir, "etcd"),
    "--listen-client-urls",
    `http://127.0.0.1:${clientPort}`,
    "--advertise-client-urls",
    `http://127.0.0.1:${clientPort}`,
    "--listen-peer-urls",
    `http://127.0.0.1:${peerPort}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peerPort}`,
    "--initial-cluster",
    `default=http://127.0.0.1:${peerPort}`,
    "--unsafe-no-fsync",
    "--log-level",
    "warn",
  ]);
  await waitFor("etcd", etcd, async () => (await fetch(`http://127.0.0.1:${clientPort}/health`)).ok);

  const tls = generateTls();
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const saKey = file("sa.key", privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const saPub = file("sa.pub", publicKey.export({ type: "spki", format: "pem" }).toString());
  const adminToken = randomBytes(24).toString("hex");
  const tokens = [
    `${adminToken},admin,admin-uid,"system:masters"`,
    ...extraTokens.map((t) => `${t.token},${t.user},${t.user}-uid,"${(t.groups ?? []).join(",")}"`),
  ];
  const apiserver = run("kube-apiserver", [
    `--etcd-servers=http://127.0.0.1:${clientPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${file("server.crt", tls.certPem)}`,
    `--tls-private-key-file=${file("server.key", tls.keyPem)}`,
    `--token-auth-file=${file("tokens.csv", `${tokens.join("\n")}\n`)}`,
    "--authorization-mode=RBAC",
    "--anonymous-auth=false",
    "--service-account-issuer=https://kubernetes.default.svc",
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    "--endpoint-reconciler-type=none",
    `--cert-dir=${join(dir, "certs")}`,
    "--enable-priority-and-fairness=false",
    "--disable-admission-plugins=ServiceAccount",
    // A node's kubelet (test/support/real-kotsadm.ts) serves on 127.0.0.1 with a certificate of this CA.
    "--kubelet-preferred-address-types=InternalIP",
    `--kubelet-certificate-authority=${file("ca.crt", tls.caPem)}`,
  ]);
  const apiUrl = `https://127.0.0.1:${apiPort}`;
  const kubeconfigFor = (user: string, token: string) =>
    file(
      `kubeconfig-${user}.yaml`,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: real\n  cluster:\n    server: ${apiUrl}\n    certificate-authority-data: ${Buffer.from(tls.caPem).toString("base64")}`,
        "users:",
        `- name: ${user}\n  user:\n    token: ${token}`,
        "contexts:",
        `- name: real\n  context:\n    cluster: real\n    user: ${user}\n    namespace: default`,
        "current-context: real",
        "",
      ].join("\n"),
    );
  const kubeconfigPath = kubeconfigFor("admin", adminToken);
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromFile(kubeconfigPath);
  const objects = KubernetesObjectApi.makeApiClient(kubeconfig);
  const core = kubeconfig.makeApiClient(CoreV1Api);
  await waitFor("kube-apiserver", apiserver, async () =>
    (await core.listNamespace()).items.some((n) => n.metadata?.name === "default"),
  );
  return {
    apiUrl,
    caPem: tls.caPem,
    tls,
    adminToken,
    kubeconfigPath,
    kubeconfig,
    objects,
    kubeconfigFor,
    async stop() {
      await apiserver.stop();
      await etcd.stop();
    },
  };
}

/** Creates each object (server-side), ignoring ones that exist. */
export async function apply(kube: Kube, objects: KubernetesObject[]): Promise<void> {
  for (const object of objects) {
    try {
      await kube.objects.create(object);
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
}

export interface BslSpec {
  bucket: string;
  prefix?: string;
  endpoint: string;
  accessMode?: "ReadWrite" | "ReadOnly";
}

export interface Velero {
  namespace: string;
  stop(): Promise<void>;
  output(): string;
}

/** Velero's CRDs (as `velero install --crds-only` prints them), a BSL on MinIO and `velero server`. */
export async function startVelero(kube: Kube, dir: string, bsl: BslSpec): Promise<Velero> {
  const namespace = "velero";
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const crdYaml = execFileSync(bin("velero"), ["install", "--crds-only", "--dry-run", "-o", "yaml"], {
    env: peerEnv({ KUBECONFIG: kube.kubeconfigPath }),
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
  const crds: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(crdYaml)) {
    const value = doc.toJSON() as { kind?: string; items?: KubernetesObject[] } | null;
    if (value?.kind === "List") crds.push(...(value.items ?? []));
    else if (value?.kind) crds.push(value as KubernetesObject);
  }
  await apply(kube, crds);
  for (const crd of crds) {
    const name = crd.metadata?.name as string;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const read = (await kube.objects.read({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name },
      })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      if (read.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const credentials = `[default]\naws_access_key_id=${MINIO_CREDENTIALS.accessKeyId}\naws_secret_access_key=${MINIO_CREDENTIALS.secretAccessKey}\n`;
  await apply(kube, [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "cloud-credentials", namespace },
      stringData: { cloud: credentials },
    } as KubernetesObject,
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "velero", namespace, labels: { component: "velero" } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { deploy: "velero" } },
        template: {
          metadata: { labels: { deploy: "velero" } },
          spec: { containers: [{ name: "velero", image: "velero/velero:v1.18.1" }] },
        },
      },
    } as KubernetesObject,
    {
      apiVersion: "velero.io/v1",
      kind: "BackupStorageLocation",
      metadata: { name: "default", namespace },
      spec: {
        provider: "aws",
        default: true,
        accessMode: bsl.accessMode ?? "ReadWrite",
        objectStorage: { bucket: bsl.bucket, ...(bsl.prefix ? { prefix: bsl.prefix } : {}) },
        config: { region: "us-east-1", s3ForcePathStyle: "true", s3Url: bsl.endpoint },
        credential: { name: "cloud-credentials", key: "cloud" },
      },
    } as KubernetesObject,
  ]);
  const pluginDir = join(PEERS_DIR, "plugins");
  const proc = run(
    "velero",
    [
      "server",
      `--kubeconfig=${kube.kubeconfigPath}`,
      `--namespace=${namespace}`,
      `--plugin-dir=${pluginDir}`,
      `--metrics-address=127.0.0.1:${await freePort()}`,
      `--profiler-address=127.0.0.1:${await freePort()}`,
      "--log-level=info",
      "--store-validation-frequency=5s",
    ],
    { TMPDIR: join(dir, "tmp"), HOME: dir },
  );
  await waitFor(
    "velero",
    proc,
    async () => {
      const location = (await kube.objects.read({
        apiVersion: "velero.io/v1",
        kind: "BackupStorageLocation",
        metadata: { name: "default", namespace },
      })) as { status?: { phase?: string } };
      return location.status?.phase === "Available";
    },
    180_000,
  );
  return { namespace, stop: () => proc.stop(), output: () => proc.output() };
}

/** Runs the `velero` CLI against `kube` (as a user would: `velero <args> -n velero`); returns stdout. */
export function veleroCli(kube: Kube, args: string[]): string {
  return execFileSync(
    bin("velero"),
    [...args, "--namespace", "velero", "--kubeconfig", kube.kubeconfigPath],
    {
      env: peerEnv({}),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 180_000,
    },
  ).toString();
}

/** A scratch folder for one test file's peers, removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

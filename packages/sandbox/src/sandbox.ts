// startSandbox: one simulated KOTS cluster in-process — the Kubernetes API over HTTPS (with RBAC from
// deploy/rbac.yaml), kotsadm behind pods/portforward, Velero's controllers and a BSL with signed URLs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "@kots-backup/adapters/store/memory";
import type { ObjectStore } from "@kots-backup/core";
import { type ClockMode, SandboxClock } from "./clock.ts";
import { Faults } from "./faults.ts";
import { createApiHandler } from "./k8s/api-server.ts";
import { TokenAuthenticator } from "./k8s/auth.ts";
import { ClusterState } from "./k8s/cluster-state.ts";
import { loadCrds } from "./k8s/crds.ts";
import { createUpgradeHandler } from "./k8s/portforward.ts";
import { defaultRbacPath, RbacPolicy } from "./k8s/rbac.ts";
import { builtinResources, ResourceRegistry } from "./k8s/resources.ts";
import type { KotsApp } from "./kotsadm/backup-specs.ts";
import { KOTSADM_PORT, Kotsadm, newAppId, stateCluster } from "./kotsadm/kotsadm.ts";
import { Scenario } from "./scenario.ts";
import { seedCluster } from "./seed.ts";
import { generateTls } from "./tls.ts";
import { Velero } from "./velero/velero.ts";

export interface SandboxOptions {
  /** kotsadm's namespace and the kubeconfig context namespace. Default `default`. */
  kotsadmNamespace?: string;
  /** Default `velero`. */
  veleroNamespace?: string;
  /** Installed apps; default one app `my-app`. */
  apps?: (Partial<KotsApp> & { slug: string })[];
  /** The BSL's object store; default a fresh MemoryStore. */
  store?: ObjectStore;
  /** BSL bucket name (appears in signed URLs and the BSL spec). Default `velero-sandbox`. */
  bucket?: string;
  /** `manual` (default, tests: time moves with clock.advance) or `real` (demo: wall clock). */
  clock?: ClockMode;
  /** Start of a manual clock. Default 2026-11-23T12:00:00Z. */
  startTime?: Date;
  /** Create ConfigMap kotsadm-velero-namespace. Default true. */
  veleroNamespaceConfigMap?: boolean;
  /** Initial phase of the default BSL. Default Available. */
  bslPhase?: "Available" | "Unavailable";
  /** RBAC manifest text for the kots-backup service account. Default: deploy/rbac.yaml. */
  rbacYaml?: string;
  /** Directory of the Velero CRD YAMLs. Default: the vendored packages/sandbox/fixtures/velero-crds. */
  crdDirectory?: string;
  /** kotsadm image recorded in backups. */
  kotsadmImage?: string;
}

export interface Sandbox {
  /** Kubeconfig file for the kots-backup service account (CA data + token, context namespace = kotsadm's). */
  kubeconfigPath: string;
  kubeconfigYaml: string;
  /** Same cluster, admin token (bypasses RBAC) — for test setup. */
  adminKubeconfigYaml: string;
  adminToken: string;
  serviceAccountToken: string;
  caPem: string;
  /** https://127.0.0.1:<port> */
  apiUrl: string;
  /** http://127.0.0.1:<port>: where DownloadRequest URLs point. */
  downloadUrl: string;
  namespaces: { kotsadm: string; velero: string };
  clock: SandboxClock;
  faults: Faults;
  kotsadm: Kotsadm;
  velero: Velero;
  scenario: Scenario;
  /** Direct access to the cluster's objects (no HTTP, no RBAC). */
  state: ClusterState;
  registry: ResourceRegistry;
  /** The BSL store (same as `velero.store`). */
  store: ObjectStore;
  /** Replaces the RBAC rules enforced for the service account (e.g. a manifest with a rule removed). */
  setRbac(yamlText: string): void;
  /** Lets the controllers do everything due now (no time passes). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const kotsadmNamespace = options.kotsadmNamespace ?? "default";
  const veleroNamespace = options.veleroNamespace ?? "velero";
  const mapping = { kotsadmNamespace, veleroNamespace };
  const clock = new SandboxClock(options.clock ?? "manual", options.startTime);
  const crds = loadCrds(options.crdDirectory);
  const registry = new ResourceRegistry([...builtinResources, ...crds.types]);
  const state = new ClusterState(clock);
  state.addValidator((type, object) => {
    if (!type.builtin) crds.validate(type, object);
  });
  let rbac = options.rbacYaml
    ? new RbacPolicy(options.rbacYaml, mapping)
    : RbacPolicy.fromFile(defaultRbacPath, mapping);
  const auth = new TokenAuthenticator({ namespace: kotsadmNamespace, name: "kots-backup" });
  const faults = new Faults();
  const store = options.store ?? new MemoryStore("velero-bsl");
  const bucket = options.bucket ?? "velero-sandbox";
  const kotsadmImage = options.kotsadmImage ?? "kotsadm/kotsadm:v1.124.0";
  const apps: KotsApp[] = (options.apps ?? [{ slug: "my-app" }]).map((app) => ({
    id: app.id ?? newAppId(),
    slug: app.slug,
    name: app.name ?? app.slug,
    sequence: app.sequence ?? 3,
    versionLabel: app.versionLabel ?? "1.4.2",
    namespace: app.namespace ?? kotsadmNamespace,
    ...(app.backup ? { backup: app.backup } : {}),
  }));

  seedCluster(state, registry, {
    kotsadmNamespace,
    veleroNamespace,
    apps,
    kotsadmImage,
    veleroNamespaceConfigMap: options.veleroNamespaceConfigMap ?? true,
  });
  const kotsadm = new Kotsadm({
    namespace: kotsadmNamespace,
    veleroNamespace,
    apps,
    image: kotsadmImage,
    clock,
    cluster: stateCluster(state, registry, { kotsadm: kotsadmNamespace, velero: veleroNamespace }),
    faults,
  });
  const velero = new Velero({ state, registry, clock, faults, namespace: veleroNamespace, store, bucket });
  velero.createDefaultBsl(options.bslPhase ?? "Available");
  clock.addListener(velero);
  const scenario = new Scenario({
    state,
    registry,
    clock,
    kotsadm,
    store,
    kotsadmNamespace,
    veleroNamespace,
  });

  const tls = generateTls();
  const context = { state, registry, auth, rbac: () => rbac, faults };
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, createApiHandler(context));
  server.on(
    "upgrade",
    createUpgradeHandler(context, (ns, pod, port) => {
      // Only port 3000 of kotsadm's own pod is served; anything else is refused like the kubelet does.
      const podObject = state.find(registry.byResource("", "pods"), ns, pod);
      if (port === KOTSADM_PORT && podObject?.metadata.labels?.app === "kotsadm" && ns === kotsadmNamespace)
        return kotsadm.connect();
      return {
        error: `error forwarding port ${port} to pod ${podObject?.metadata.uid ?? pod}, uid : failed to connect to localhost:${port} inside namespace "${ns}": connection refused`,
      };
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const apiUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const downloadUrl = await velero.urls.listen();

  // Controllers react to object changes at once (a watch in real Velero), and to time via the clock.
  // A controller bug must not vanish in a background promise: say so on stderr.
  const report = (error: unknown) =>
    process.stderr.write(`sandbox controller error: ${(error as Error)?.stack ?? error}\n`);
  let kickPending = false;
  const kick = () => {
    if (kickPending) return;
    kickPending = true;
    setImmediate(() => {
      kickPending = false;
      clock.settle().catch(report);
    });
  };
  const unsubscribe = state.subscribe(kick);
  const ticker = clock.mode === "real" ? setInterval(() => clock.settle().catch(report), 200) : undefined;
  await clock.settle();

  const kubeconfig = (user: string, token: string) =>
    kubeconfigYaml(apiUrl, tls.caPem, user, token, kotsadmNamespace);
  const directory = mkdtempSync(join(tmpdir(), "kots-sandbox-"));
  const kubeconfigPath = join(directory, "kubeconfig");
  const serviceAccountKubeconfig = kubeconfig("kots-backup", auth.serviceAccountToken);
  writeFileSync(kubeconfigPath, serviceAccountKubeconfig, { mode: 0o600 });

  return {
    kubeconfigPath,
    kubeconfigYaml: serviceAccountKubeconfig,
    adminKubeconfigYaml: kubeconfig("admin", auth.adminToken),
    adminToken: auth.adminToken,
    serviceAccountToken: auth.serviceAccountToken,
    caPem: tls.caPem,
    apiUrl,
    downloadUrl,
    namespaces: { kotsadm: kotsadmNamespace, velero: veleroNamespace },
    clock,
    faults,
    kotsadm,
    velero,
    scenario,
    state,
    registry,
    store,
    setRbac(yamlText) {
      rbac = new RbacPolicy(yamlText, mapping);
    },
    settle: () => clock.settle(),
    async stop() {
      unsubscribe();
      if (ticker) clearInterval(ticker);
      kotsadm.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await velero.urls.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

function kubeconfigYaml(
  server: string,
  caPem: string,
  user: string,
  token: string,
  namespace: string,
): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: kots-sandbox",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
    "users:",
    `  - name: ${user}`,
    "    user:",
    `      token: ${token}`,
    "contexts:",
    "  - name: kots-sandbox",
    "    context:",
    "      cluster: kots-sandbox",
    `      user: ${user}`,
    `      namespace: ${namespace}`,
    "current-context: kots-sandbox",
    "",
  ].join("\n");
}

// The one place that turns a validated config into the things the use cases run on: the cluster
// connection (kubeconfig, a `{server, caData, token}` secret, or EKS), the KotsCluster port, the export
// destination (S3 or a local folder), kots-backup's state on it (slot claims, alert records), and the
// alert channels. Used by the CLI (packages/cli/src/context.ts) and the Lambda handlers alike, so both
// reach the same cluster and the same state the same way. Nothing here talks to the network until a
// getter is first awaited; every secret it resolves is remembered for redaction (known-secrets.ts).
import { readFile } from "node:fs/promises";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { EnvironmentError, InputError, type ObjectStore } from "@kots-backup/core";
import type { Config } from "@kots-backup/core/config";
import type { SlotClaimStore } from "@kots-backup/core/usecases/ports";
import { type Channel, eventBridgeChannel } from "../alerts/index.ts";
import { destinationStore } from "../export/stores.ts";
import { KubeKotsCluster } from "../kube/cluster.ts";
import { type ConnectionSource, connect, type KubeConnection } from "../kube/connection.ts";
import type { RetryPolicy } from "../retry.ts";
import { resolveSecret } from "../secrets/resolve.ts";
import { Secret } from "../secrets/secret.ts";
import { StateStore, slotClaimStore } from "../state/state-store.ts";
import { type AlertChannelOptions, alertChannels } from "./alert-channels.ts";
import { rememberSecrets } from "./known-secrets.ts";

export { forgetSecrets, redactKnown, redactValue, rememberSecrets } from "./known-secrets.ts";
export { type AlertChannelOptions, alertChannels };

export interface ClusterReachOptions {
  /** Environment for `env:` references (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Stand-in for SST's `Resource` (`sst:` references). */
  sstResource?: Record<string, unknown>;
  warn?: (message: string) => void;
  /** A kubeconfig named on the command line: beats `cluster.credentials`. */
  kubeconfig?: string;
  /** A context named on the command line: beats `cluster.credentials`. */
  context?: string;
}

/**
 * How `cluster` and `drill.cluster` say where a cluster is: a kubeconfig (and context), a
 * `{server, caData, token}` secret, or EKS with server and caData from that secret. One connection path
 * for both; `field` (`cluster`, `drill.cluster`) names their fields in messages.
 */
export type ClusterConnectionSettings = Pick<
  NonNullable<Config["cluster"]>,
  "kubeconfig" | "context" | "caFile" | "credentials" | "eks" | "insecureSkipTlsVerify"
> & {
  /** The connection's default namespace (cluster.kotsadmNamespace), before the secret's. */
  kotsadmNamespace?: string | undefined;
};

interface ConnectionSecret {
  server?: unknown;
  caData?: unknown;
  token?: unknown;
  namespace?: unknown;
}

async function caFromFile(path: string, field: string): Promise<string> {
  try {
    return (await readFile(path)).toString("base64");
  } catch (error) {
    throw new EnvironmentError(
      "ca-file-unreadable",
      `${field}.caFile: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`,
      { field: `${field}.caFile`, fix: `point ${field}.caFile at the PEM file of the cluster's CA` },
    );
  }
}

/** Where the cluster is: `<field>.credentials` (+ `<field>.eks`) unless a kubeconfig/context flag was given. */
async function connectionSource(
  cluster: ClusterConnectionSettings | undefined,
  field: string,
  options: ClusterReachOptions,
  caData: string | undefined,
): Promise<ConnectionSource> {
  if (!cluster?.credentials || options.kubeconfig || options.context) {
    const file = options.kubeconfig ?? cluster?.kubeconfig;
    const context = options.context ?? cluster?.context;
    return { kind: "kubeconfig", ...(file ? { file } : {}), ...(context ? { context } : {}) };
  }
  const credentialsField = `${field}.credentials`;
  const secret = await resolveSecret(cluster.credentials, {
    field: credentialsField,
    ...(options.env ? { env: options.env } : {}),
    ...(options.sstResource ? { sstResource: options.sstResource } : {}),
  });
  rememberSecrets(secret);
  let parsed: ConnectionSecret;
  try {
    parsed = JSON.parse(secret.reveal()) as ConnectionSecret;
  } catch {
    throw new InputError(
      "invalid-cluster-credentials",
      `${credentialsField}: the secret is not JSON {server, caData, token}`,
      {
        field: credentialsField,
        fix: 'store {"server":"https://…","caData":"<base64 PEM>","token":"<service-account token>"} in it',
      },
    );
  }
  if (typeof parsed.token === "string") rememberSecrets(new Secret(parsed.token, cluster.credentials));
  if (typeof parsed.server !== "string") {
    throw new InputError("invalid-cluster-credentials", `${credentialsField}: the secret has no server`, {
      field: credentialsField,
      fix: 'add "server": "https://<api-server>" to the secret',
    });
  }
  const ca = caData ?? (typeof parsed.caData === "string" ? parsed.caData : undefined);
  const namespace =
    cluster.kotsadmNamespace ?? (typeof parsed.namespace === "string" ? parsed.namespace : undefined);
  if (cluster.eks) {
    if (!ca) {
      throw new InputError(
        "invalid-cluster-credentials",
        `${credentialsField}: an EKS connection needs caData`,
        {
          field: credentialsField,
          fix: "add the cluster's certificate authority (aws eks describe-cluster … certificateAuthority.data) as caData",
        },
      );
    }
    return {
      kind: "eks",
      clusterName: cluster.eks.clusterName,
      region: cluster.eks.region,
      server: parsed.server,
      caData: ca,
      ...(namespace ? { namespace } : {}),
    };
  }
  if (typeof parsed.token !== "string") {
    throw new InputError("invalid-cluster-credentials", `${credentialsField}: the secret has no token`, {
      field: credentialsField,
      fix: `add "token": "<service-account token>" to the secret (or set ${field}.eks to sign EKS tokens)`,
    });
  }
  return {
    kind: "token",
    server: parsed.server,
    token: new Secret(parsed.token, cluster.credentials),
    ...(ca ? { caData: ca } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

/** The cluster connection the config (and the CLI flags, when given) describe. */
export function connectFromConfig(
  config: Config | undefined,
  options: ClusterReachOptions = {},
): Promise<KubeConnection> {
  return connectCluster(config?.cluster, "cluster", options);
}

/** The connection `cluster` or `drill.cluster` (`field`) describes, TLS verified unless it says otherwise. */
export async function connectCluster(
  cluster: ClusterConnectionSettings | undefined,
  field: "cluster" | "drill.cluster",
  options: ClusterReachOptions = {},
): Promise<KubeConnection> {
  const caData = cluster?.caFile ? await caFromFile(cluster.caFile, field) : undefined;
  const source = await connectionSource(cluster, field, options, caData);
  const connection = await connect(source, {
    ...(cluster?.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
    ...(options.warn ? { warn: options.warn } : {}),
    ...(options.env ? { env: options.env } : {}),
    fields: {
      file: options.kubeconfig
        ? "--kubeconfig"
        : cluster?.kubeconfig
          ? `${field}.kubeconfig`
          : "--kubeconfig",
      context: options.context ? "--context" : cluster?.context ? `${field}.context` : "--context",
      insecure: `${field}.insecureSkipTlsVerify`,
    },
  });
  if (caData && source.kind === "kubeconfig") {
    // <field>.caFile replaces the kubeconfig's CA for the current cluster.
    const kc = connection.kubeConfig;
    const current = kc.getCurrentCluster();
    if (current) {
      kc.loadFromOptions({
        clusters: kc
          .getClusters()
          .map((c) => (c.name === current.name ? { ...c, caData, caFile: undefined } : c)),
        users: kc.getUsers(),
        contexts: kc.getContexts(),
        currentContext: kc.getCurrentContext(),
      });
    }
  }
  return connection;
}

export interface ClusterOptions extends ClusterReachOptions {
  /** Told about retries and discovery facts (never secrets). */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  retry?: Partial<RetryPolicy>;
}

/** The KotsCluster port on the config's cluster (default name `kots`, kotsadm namespace from the connection). */
export function kotsClusterOn(
  connection: KubeConnection,
  config: Config | undefined,
  options: ClusterOptions = {},
) {
  return new KubeKotsCluster(connection, {
    name: config?.cluster.name ?? "kots",
    ...(config?.cluster.kotsadmNamespace ? { kotsadmNamespace: config.cluster.kotsadmNamespace } : {}),
    ...(config?.cluster.veleroNamespace ? { veleroNamespace: config.cluster.veleroNamespace } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  });
}

/** A channel that puts every event on the given bus (the deployment's own event stream). */
export function busChannel(busName: string, name = "bus"): Channel {
  return eventBridgeChannel({ client: new EventBridgeClient({ maxAttempts: 1 }), busName, name });
}

export interface RuntimeOptions extends ClusterOptions {
  /** Folder relative destinations are resolved against (default `process.cwd()`). */
  cwd?: string;
}

/**
 * What one command or invocation runs on, built lazily from the config: each getter connects on first
 * use and is memoised; `close()` ends the cluster's port-forward. One per command or Lambda invocation.
 */
export class Runtime {
  readonly config: Config;
  readonly #options: RuntimeOptions;
  #connection: Promise<KubeConnection> | undefined;
  #cluster: Promise<KubeKotsCluster> | undefined;
  #destination: Promise<ObjectStore> | undefined;
  #channels: Promise<Channel[]> | undefined;

  constructor(config: Config, options: RuntimeOptions = {}) {
    this.config = config;
    this.#options = options;
  }

  connection(): Promise<KubeConnection> {
    this.#connection ??= connectFromConfig(this.config, this.#options);
    this.#connection.catch(() => {
      this.#connection = undefined;
    });
    return this.#connection;
  }

  cluster(): Promise<KubeKotsCluster> {
    this.#cluster ??= this.connection().then((c) => kotsClusterOn(c, this.config, this.#options));
    this.#cluster.catch(() => {
      this.#cluster = undefined;
    });
    return this.#cluster;
  }

  destination(): Promise<ObjectStore> {
    this.#destination ??= destinationStore(this.config.export, {
      ...(this.#options.cwd ? { cwd: this.#options.cwd } : {}),
      ...(this.#options.env ? { env: this.#options.env } : {}),
    });
    this.#destination.catch(() => {
      this.#destination = undefined;
    });
    return this.#destination;
  }

  async state(): Promise<StateStore> {
    return new StateStore(await this.destination());
  }

  async claims(): Promise<SlotClaimStore> {
    return slotClaimStore(await this.state());
  }

  /** The configured alert channels (memoised). */
  channels(exclude: AlertChannelOptions["exclude"] = []): Promise<Channel[]> {
    this.#channels ??= alertChannels(this.config, {
      ...(this.#options.env ? { env: this.#options.env } : {}),
      ...(this.#options.sstResource ? { sstResource: this.#options.sstResource } : {}),
      exclude,
    });
    this.#channels.catch(() => {
      this.#channels = undefined;
    });
    return this.#channels;
  }

  /** Ends the cluster's port-forward, if one was opened. Safe to call twice. */
  async close(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    this.#connection = undefined;
    if (cluster) await cluster.then((c) => c.close()).catch(() => {});
  }
}

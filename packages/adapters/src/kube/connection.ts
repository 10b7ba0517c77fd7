// How kots-backup reaches a cluster: a kubeconfig (CLI, daemon), a `{server, caData, token}` secret
// (Lambda), or EKS with a `k8s-aws-v1.` token signed by the function itself (exec plugins such as
// `aws eks get-token` cannot run in Lambda). TLS is verified unless kots-backup's own config says
// otherwise (`cluster.insecureSkipTlsVerify: true`), and that is warned about: a kubeconfig's
// `insecure-skip-tls-verify` alone is refused, so a copied kubeconfig cannot silently turn it off.
// Tokens live only inside the KubeConfig; nothing here logs them.
import { createHash, createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { STSClient } from "@aws-sdk/client-sts";
import { EnvironmentError, InputError } from "@kots-backup/core";
// From its module rather than the package index: the index also loads every generated API and model
// class (see kube/api.ts), which nothing here needs.
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import type { Cluster, User } from "@kubernetes/client-node/dist/config_types.js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Secret } from "../secrets/secret.ts";

export interface KubeConnection {
  readonly kubeConfig: KubeConfig;
  /** The API server URL (safe to show). */
  readonly server: string;
  /** Context namespace, else `default` (the kotsadm namespace when the config names none, as `kubectl kots` does). */
  readonly namespace: string;
  /** Where the connection came from, for messages: `kubeconfig /home/me/.kube/config context prod`. */
  readonly description: string;
  readonly insecureSkipTlsVerify: boolean;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type ConnectionSource =
  | {
      kind: "kubeconfig";
      /** Default: KUBECONFIG (a `:`-separated list), then ~/.kube/config, then in-cluster service account. */
      file?: string;
      context?: string;
    }
  | {
      kind: "token";
      server: string;
      /** Base64 PEM of the cluster CA (as in a kubeconfig's certificate-authority-data). */
      caData?: string;
      token: Secret | string;
      namespace?: string;
      tlsServerName?: string;
    }
  | {
      kind: "eks";
      clusterName: string;
      region: string;
      server: string;
      caData: string;
      namespace?: string;
      /** Default: the AWS SDK's default provider chain (the Lambda's role). */
      credentials?: () => Promise<AwsCredentials>;
    };

export interface ConnectOptions {
  /**
   * Skip TLS verification (kots-backup's `cluster.insecureSkipTlsVerify: true`); a warning is given.
   * Without it, a kubeconfig's `insecure-skip-tls-verify: true` is refused.
   */
  insecureSkipTlsVerify?: boolean;
  /** Where warnings go (default stderr). */
  warn?: (message: string) => void;
  /** For tests: environment and home directory used to find the default kubeconfig. */
  env?: Record<string, string | undefined>;
  home?: string;
  /** Field names for messages (`--kubeconfig`/`cluster.kubeconfig`, `--context`/`cluster.context`, `cluster.insecureSkipTlsVerify`). */
  fields?: { file?: string; context?: string; insecure?: string };
}

const defaultWarn = (message: string) => process.stderr.write(`warning: ${message}\n`);

export async function connect(
  source: ConnectionSource,
  options: ConnectOptions = {},
): Promise<KubeConnection> {
  switch (source.kind) {
    case "kubeconfig":
      return fromKubeconfig(source, options);
    case "token":
      return fromToken(source, options);
    case "eks":
      return fromEks(source, options);
  }
}

function fromKubeconfig(
  source: { file?: string; context?: string },
  options: ConnectOptions,
): KubeConnection {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const kc = new KubeConfig();
  let origin: string;
  const fileField = options.fields?.file ?? "--kubeconfig";
  const contextField = options.fields?.context ?? "--context";
  try {
    if (source.file) {
      if (!existsSync(source.file)) {
        throw new InputError(
          "kubeconfig-missing",
          `${fileField}: kubeconfig file ${source.file} does not exist`,
          {
            field: fileField,
            fix: "point it at an existing kubeconfig file, or leave it out to use KUBECONFIG or ~/.kube/config",
          },
        );
      }
      kc.loadFromFile(source.file);
      origin = `kubeconfig ${source.file}`;
    } else if (env["KUBECONFIG"]) {
      const files = env["KUBECONFIG"].split(":").filter((f) => f !== "" && existsSync(f));
      if (files.length === 0) {
        throw new EnvironmentError(
          "kubeconfig-missing",
          `no kubeconfig: KUBECONFIG=${env["KUBECONFIG"]} names no existing file`,
          {
            fix: "fix KUBECONFIG, or pass --kubeconfig <file>",
          },
        );
      }
      kc.loadFromFile(files[0]!);
      for (const file of files.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kc.mergeConfig(more, true);
      }
      origin = `kubeconfig ${files.join(":")} (KUBECONFIG)`;
    } else if (existsSync(join(home, ".kube", "config"))) {
      kc.loadFromFile(join(home, ".kube", "config"));
      origin = `kubeconfig ${join(home, ".kube", "config")}`;
    } else if (env["KUBERNETES_SERVICE_HOST"]) {
      kc.loadFromCluster();
      origin = "in-cluster service account";
    } else {
      throw new EnvironmentError(
        "kubeconfig-missing",
        `no kubeconfig: looked for --kubeconfig, KUBECONFIG (unset), ${join(home, ".kube", "config")} (missing) and an in-cluster service account (KUBERNETES_SERVICE_HOST unset)`,
        { fix: "pass --kubeconfig <file>, set KUBECONFIG, or set cluster.kubeconfig in kots-backup.yaml" },
      );
    }
  } catch (error) {
    if (error instanceof InputError || error instanceof EnvironmentError) throw error;
    throw new EnvironmentError(
      "kubeconfig-invalid",
      `cannot load the kubeconfig: ${(error as Error).message}`,
      {
        cause: error,
        fix: "check that the kubeconfig is valid YAML (kubectl config view)",
      },
    );
  }
  if (source.context) {
    if (!kc.getContextObject(source.context)) {
      throw new InputError(
        "kube-context-unknown",
        `${contextField}: context "${source.context}" is not in the ${origin} (contexts: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        })`,
        { field: contextField, fix: "name one of the listed contexts (kubectl config get-contexts)" },
      );
    }
    kc.setCurrentContext(source.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster = kc.getCurrentCluster();
  if (!context || !cluster) {
    throw new EnvironmentError("kube-context-missing", `the ${origin} has no usable current context`, {
      fix: "pass --context <name>, or run kubectl config use-context <name>",
    });
  }
  if (cluster.skipTLSVerify && !options.insecureSkipTlsVerify) {
    // Refused before any request: the token must not reach a server whose certificate is unchecked.
    const insecureField = options.fields?.insecure ?? "cluster.insecureSkipTlsVerify";
    throw new EnvironmentError(
      "tls-skip-refused",
      `the ${origin} context ${context.name} asks to skip TLS verification of ${cluster.server} (insecure-skip-tls-verify: true), but kots-backup skips verification only when its own config sets ${insecureField}: true`,
      {
        field: insecureField,
        fix: `trust the cluster's CA instead (certificate-authority-data in the kubeconfig, or cluster.caFile) and remove insecure-skip-tls-verify, or accept the risk with ${insecureField}: true in kots-backup's config`,
      },
    );
  }
  if (options.insecureSkipTlsVerify) applyInsecure(kc, cluster, options);
  return {
    kubeConfig: kc,
    server: cluster.server,
    namespace: context.namespace || "default",
    description: `${origin} context ${context.name}`,
    insecureSkipTlsVerify: Boolean(options.insecureSkipTlsVerify),
  };
}

function applyInsecure(kc: KubeConfig, cluster: Cluster, options: ConnectOptions): void {
  (options.warn ?? defaultWarn)(
    `TLS verification of the Kubernetes API at ${cluster.server} is OFF (asked for explicitly); anyone on the network path can read the credentials`,
  );
  if (cluster.skipTLSVerify) return;
  const clusters = kc.getClusters().map((c) => (c.name === cluster.name ? { ...c, skipTLSVerify: true } : c));
  kc.loadFromOptions({
    clusters,
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
}

function checkServer(server: string, field: string): void {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new InputError("kube-server-invalid", `${field}: "${server}" is not a URL`, {
      field,
      fix: "use the API server's https:// URL",
    });
  }
  if (url.protocol !== "https:") {
    throw new InputError("kube-server-invalid", `${field}: "${server}" is not https`, {
      field,
      fix: "use the API server's https:// URL",
    });
  }
}

function fromToken(
  source: Extract<ConnectionSource, { kind: "token" }>,
  options: ConnectOptions,
): KubeConnection {
  checkServer(source.server, "server");
  const token = typeof source.token === "string" ? source.token : source.token.reveal();
  if (token === "") {
    throw new InputError("kube-token-missing", "token: the connection secret holds an empty token", {
      field: "token",
      fix: "store a service-account token in the secret's token field",
    });
  }
  const kc = new KubeConfig();
  const cluster: Cluster = {
    name: "kots-backup",
    server: source.server,
    skipTLSVerify: Boolean(options.insecureSkipTlsVerify),
    ...(source.caData ? { caData: source.caData } : {}),
    ...(source.tlsServerName ? { tlsServerName: source.tlsServerName } : {}),
  };
  kc.loadFromClusterAndUser(cluster, { name: "kots-backup", token });
  return connectionFromSecret(kc, source, options, `token connection to ${source.server}`);
}

/** The connection of a secret-held source (token or EKS), warning when TLS verification is off. */
function connectionFromSecret(
  kc: KubeConfig,
  source: { server: string; namespace?: string | undefined },
  options: ConnectOptions,
  description: string,
): KubeConnection {
  if (options.insecureSkipTlsVerify) {
    (options.warn ?? defaultWarn)(
      `TLS verification of the Kubernetes API at ${source.server} is OFF (asked for explicitly)`,
    );
  }
  return {
    kubeConfig: kc,
    server: source.server,
    namespace: source.namespace || "default",
    description,
    insecureSkipTlsVerify: Boolean(options.insecureSkipTlsVerify),
  };
}

// ---------------------------------------------------------------------------------------------
// EKS: a `k8s-aws-v1.` token is a presigned STS GetCallerIdentity URL, signed with the header
// `x-k8s-aws-id: <cluster name>` (what `aws eks get-token` and aws-iam-authenticator produce).
// The API server accepts it for 15 minutes; it is re-signed after 10.

const EKS_AUTH_PROVIDER = "kots-backup-eks";
const TOKEN_REUSE_MS = 10 * 60_000;

class NodeSha256 {
  readonly #secret: Uint8Array | string | undefined;
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret =
      secret === undefined
        ? undefined
        : typeof secret === "string"
          ? secret
          : secret instanceof ArrayBuffer
            ? new Uint8Array(secret)
            : new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
    this.#hash = this.#fresh();
  }
  #fresh() {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", this.#secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    if (typeof data === "string") this.#hash.update(data);
    else if (data instanceof ArrayBuffer) this.#hash.update(new Uint8Array(data));
    else this.#hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

export interface EksTokenOptions {
  clusterName: string;
  region: string;
  credentials: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Signing time (default now). */
  now?: Date;
  /** STS host (default `sts.<region>.amazonaws.com`). */
  stsHost?: string;
}

/** Signs a `k8s-aws-v1.<base64url(presigned GetCallerIdentity URL)>` bearer token for an EKS cluster. */
export async function eksToken(options: EksTokenOptions): Promise<string> {
  const hostname = options.stsHost ?? `sts.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: "sts",
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
  });
  const signed = await signer.presign(
    {
      method: "GET",
      protocol: "https:",
      hostname,
      path: "/",
      query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      headers: { host: hostname, "x-k8s-aws-id": options.clusterName },
    },
    { expiresIn: 60, signingDate: options.now ?? new Date() },
  );
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(signed.query ?? {})) {
    if (typeof value === "string") query.set(key, value);
  }
  const url = `https://${hostname}/?${query.toString()}`;
  return `k8s-aws-v1.${Buffer.from(url).toString("base64url")}`;
}

function fromEks(
  source: Extract<ConnectionSource, { kind: "eks" }>,
  options: ConnectOptions,
): KubeConnection {
  checkServer(source.server, "server");
  const credentials =
    source.credentials ??
    (() => {
      const sts = new STSClient({ region: source.region });
      return async () => (await sts.config.credentials()) as AwsCredentials;
    })();
  let cached: { token: string; at: number } | undefined;
  const kc = new KubeConfig();
  kc.addAuthenticator({
    isAuthProvider: (user: User) =>
      (user.authProvider as { name?: string } | undefined)?.name === EKS_AUTH_PROVIDER,
    applyAuthentication: async (_user, opts) => {
      const now = Date.now();
      if (!cached || now - cached.at > TOKEN_REUSE_MS) {
        let token: string;
        try {
          token = await eksToken({ clusterName: source.clusterName, region: source.region, credentials });
        } catch (error) {
          throw new EnvironmentError(
            "aws-credentials-missing",
            `cannot sign an EKS token for cluster ${source.clusterName}: no usable AWS credentials (${(error as Error).name})`,
            {
              cause: error,
              fix: "run with an AWS role or credentials that the cluster's access entries map to a Kubernetes identity",
            },
          );
        }
        cached = { token, at: now };
      }
      opts.headers = {
        ...(opts.headers as Record<string, string> | undefined),
        Authorization: `Bearer ${cached.token}`,
      };
    },
  });
  kc.loadFromClusterAndUser(
    {
      name: source.clusterName,
      server: source.server,
      caData: source.caData,
      skipTLSVerify: Boolean(options.insecureSkipTlsVerify),
    },
    { name: "kots-backup-eks", authProvider: { name: EKS_AUTH_PROVIDER, config: {} } },
  );
  return connectionFromSecret(kc, source, options, `EKS cluster ${source.clusterName} (${source.region})`);
}

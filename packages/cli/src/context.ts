// Builds what commands need from the global options: the config (optional for `backup` and `ls`,
// which work from the kubeconfig alone as `kubectl kots` does), the cluster connection and the
// KotsCluster port. Nothing here talks to the network: connecting happens on first use.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { type ConnectionSource, connect, type KubeConnection } from "@kots-backup/adapters/kube/connection";
import { resolveSecret } from "@kots-backup/adapters/secrets/resolve";
import { StateStore, slotClaimStore } from "@kots-backup/adapters/state/state-store";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { EnvironmentError, InputError } from "@kots-backup/core";
import { type Config, parseConfig } from "@kots-backup/core/config";
import { parseDestination } from "@kots-backup/core/destination";
import type { SlotClaimStore } from "@kots-backup/core/usecases/ports";
import { parse as parseYaml } from "yaml";
import type { GlobalOptions } from "./program.ts";

export const DEFAULT_CONFIG_FILE = "kots-backup.yaml";

export interface LoadedConfig {
  config: Config;
  path: string;
}

export interface ContextOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  warn?: (message: string) => void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The config file: `--config`, else env KOTS_BACKUP_CONFIG, else ./kots-backup.yaml. A file named
 * explicitly must exist; the default one is optional (`required: false`) for commands that can run
 * from the kubeconfig alone.
 */
export function loadConfig(
  globals: GlobalOptions,
  options: ContextOptions & { required?: boolean } = {},
): LoadedConfig | undefined {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = globals.config ?? env["KOTS_BACKUP_CONFIG"];
  const field = globals.config ? "--config" : "KOTS_BACKUP_CONFIG";
  const path = resolve(cwd, explicit ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (explicit) {
      throw new InputError("config-missing", `${field}: config file ${path} does not exist`, {
        field,
        fix: "point it at an existing kots-backup.yaml (or leave it out to use ./kots-backup.yaml)",
      });
    }
    if (options.required) {
      throw new InputError("config-missing", `no config file: ${path} does not exist`, {
        field: "--config",
        fix: "create kots-backup.yaml (see README.md) or pass --config <file>",
      });
    }
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new EnvironmentError(
      "config-unreadable",
      `cannot read config file ${path} (${(error as NodeJS.ErrnoException).code})`,
      {
        cause: error,
        fix: `let the user running kots-backup read ${path}`,
      },
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new InputError(
      "invalid-config",
      `${path}: not valid YAML or JSON: ${(error as Error).message.split("\n")[0]}`,
      {
        field: "--config",
        fix: "fix the syntax (YAML or JSON)",
      },
    );
  }
  return { config: parseConfig(document), path };
}

interface ConnectionSecret {
  server?: unknown;
  caData?: unknown;
  token?: unknown;
  namespace?: unknown;
}

/** The connection: `cluster.credentials` (+ `cluster.eks`) from AWS, else the kubeconfig (flags first). */
export async function openConnection(
  globals: GlobalOptions,
  config: Config | undefined,
  options: ContextOptions = {},
): Promise<KubeConnection> {
  const cluster = config?.cluster;
  const warn = options.warn;
  const common = {
    ...(cluster?.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
    ...(warn ? { warn } : {}),
    ...(options.env ? { env: options.env } : {}),
  };
  const caData = cluster?.caFile ? readCaFile(cluster.caFile) : undefined;
  let source: ConnectionSource;
  if (cluster?.credentials && !globals.kubeconfig && !globals.context) {
    const secret = await resolveSecret(cluster.credentials, {
      field: "cluster.credentials",
      ...(options.env ? { env: options.env } : {}),
    });
    let parsed: ConnectionSecret;
    try {
      parsed = JSON.parse(secret.reveal()) as ConnectionSecret;
    } catch {
      throw new InputError(
        "invalid-cluster-credentials",
        "cluster.credentials: the secret is not JSON {server, caData, token}",
        {
          field: "cluster.credentials",
          fix: 'store {"server":"https://…","caData":"<base64 PEM>","token":"<service-account token>"} in it',
        },
      );
    }
    if (typeof parsed.server !== "string") {
      throw new InputError("invalid-cluster-credentials", "cluster.credentials: the secret has no server", {
        field: "cluster.credentials",
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
          "cluster.credentials: an EKS connection needs caData",
          {
            field: "cluster.credentials",
            fix: "add the cluster's certificate authority (aws eks describe-cluster … certificateAuthority.data) as caData",
          },
        );
      }
      source = {
        kind: "eks",
        clusterName: cluster.eks.clusterName,
        region: cluster.eks.region,
        server: parsed.server,
        caData: ca,
        ...(namespace ? { namespace } : {}),
      };
    } else {
      if (typeof parsed.token !== "string") {
        throw new InputError("invalid-cluster-credentials", "cluster.credentials: the secret has no token", {
          field: "cluster.credentials",
          fix: 'add "token": "<service-account token>" to the secret (or set cluster.eks to sign EKS tokens)',
        });
      }
      source = {
        kind: "token",
        server: parsed.server,
        token: parsed.token,
        ...(ca ? { caData: ca } : {}),
        ...(namespace ? { namespace } : {}),
      };
    }
  } else {
    const file = globals.kubeconfig ?? cluster?.kubeconfig;
    const context = globals.context ?? cluster?.context;
    source = { kind: "kubeconfig", ...(file ? { file } : {}), ...(context ? { context } : {}) };
  }
  const connection = await connect(source, {
    ...common,
    fields: {
      file: globals.kubeconfig ? "--kubeconfig" : cluster?.kubeconfig ? "cluster.kubeconfig" : "--kubeconfig",
      context: globals.context ? "--context" : cluster?.context ? "cluster.context" : "--context",
    },
  });
  if (caData && source.kind === "kubeconfig") {
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

function readCaFile(path: string): string {
  try {
    return readFileSync(path).toString("base64");
  } catch (error) {
    throw new EnvironmentError(
      "ca-file-unreadable",
      `cluster.caFile: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`,
      {
        field: "cluster.caFile",
        fix: "point cluster.caFile at the PEM file of the cluster's CA",
      },
    );
  }
}

export interface ClusterContext {
  config: Config | undefined;
  connection: KubeConnection;
  cluster: KubeKotsCluster;
}

/** Config (optional), connection and the KotsCluster port, as `backup` and `ls` use them. */
export async function openCluster(
  globals: GlobalOptions,
  options: ContextOptions = {},
): Promise<ClusterContext> {
  const loaded = loadConfig(globals, options);
  const config = loaded?.config;
  const connection = await openConnection(globals, config, options);
  const cluster = new KubeKotsCluster(connection, {
    name: config?.cluster.name ?? "kots",
    ...(config?.cluster.kotsadmNamespace ? { kotsadmNamespace: config.cluster.kotsadmNamespace } : {}),
    ...(config?.cluster.veleroNamespace ? { veleroNamespace: config.cluster.veleroNamespace } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return { config, connection, cluster };
}

/**
 * kots-backup's slot claims in the export destination's `state/`, for `ls` to mark scheduled
 * backups. Undefined without a config, or when a local destination folder does not exist yet.
 */
export async function openClaims(
  config: Config | undefined,
  options: ContextOptions = {},
): Promise<SlotClaimStore | undefined> {
  if (!config) return undefined;
  const destination = parseDestination(config.export.destination);
  if ("problem" in destination) return undefined;
  if (destination.kind === "file") {
    const root = resolve(options.cwd ?? process.cwd(), destination.path);
    if (!existsSync(root)) return undefined;
    return slotClaimStore(new StateStore(new LocalFolderStore(root)));
  }
  const env = options.env ? { env: options.env } : {};
  const credentials = config.export.credentials
    ? {
        accessKeyId: (
          await resolveSecret(config.export.credentials.accessKeyId, {
            field: "export.credentials.accessKeyId",
            ...env,
          })
        ).reveal(),
        secretAccessKey: (
          await resolveSecret(config.export.credentials.secretAccessKey, {
            field: "export.credentials.secretAccessKey",
            ...env,
          })
        ).reveal(),
        ...(config.export.credentials.sessionToken
          ? {
              sessionToken: (
                await resolveSecret(config.export.credentials.sessionToken, {
                  field: "export.credentials.sessionToken",
                  ...env,
                })
              ).reveal(),
            }
          : {}),
      }
    : undefined;
  const client = new S3Client({
    ...(config.export.region ? { region: config.export.region } : {}),
    ...(config.export.endpoint ? { endpoint: config.export.endpoint } : {}),
    ...(config.export.forcePathStyle !== undefined ? { forcePathStyle: config.export.forcePathStyle } : {}),
    ...(credentials ? { credentials } : {}),
  });
  return slotClaimStore(
    new StateStore(new S3Store({ bucket: destination.bucket, prefix: destination.prefix, client })),
  );
}

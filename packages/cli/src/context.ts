// Builds what commands need from the global options: the config (optional for `backup` and `ls`,
// which work from the kubeconfig alone as `kubectl kots` does), the cluster connection and the
// KotsCluster port, built by the shared runtime (@kots-backup/adapters/runtime) the Lambda handlers use too.
// Nothing here talks to the network: connecting happens on first use.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import type { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import type { KubeConnection } from "@kots-backup/adapters/kube/connection";
import { connectFromConfig, kotsClusterOn } from "@kots-backup/adapters/runtime/index";
import { StateStore, slotClaimStore } from "@kots-backup/adapters/state/state-store";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { EnvironmentError, InputError } from "@kots-backup/core";
import { type Config, parseConfig } from "@kots-backup/core/config";
import { parseConfigYaml } from "@kots-backup/core/config-yaml";
import { parseDestination } from "@kots-backup/core/destination";
import type { SlotClaimStore } from "@kots-backup/core/usecases/ports";
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
    document = parseConfigYaml(text);
  } catch (error) {
    if (!(error instanceof InputError && error.code === "invalid-yaml")) throw error;
    throw new InputError("invalid-config", `${path}: ${error.message}`, {
      field: "--config",
      ...(error.fix ? { fix: error.fix } : {}),
    });
  }
  return { config: parseConfig(document), path };
}

/** The connection: `cluster.credentials` (+ `cluster.eks`) from AWS, else the kubeconfig (flags first). */
export async function openConnection(
  globals: GlobalOptions,
  config: Config | undefined,
  options: ContextOptions = {},
): Promise<KubeConnection> {
  return connectFromConfig(config, {
    ...(options.warn ? { warn: options.warn } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(globals.kubeconfig ? { kubeconfig: globals.kubeconfig } : {}),
    ...(globals.context ? { context: globals.context } : {}),
  });
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
  const cluster = kotsClusterOn(connection, config, options.log ? { log: options.log } : {});
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
  return slotClaimStore(
    new StateStore(await destinationStore(config.export, options.env ? { env: options.env } : {})),
  );
}

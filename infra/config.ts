// The deploy-time config: `kots-backup.yaml` at the repo root (or env KOTS_BACKUP_CONFIG), validated by the
// same `parseConfig` as the CLI and the functions, then checked for what an AWS deployment needs. Any
// problem fails the deploy with the field named. Plain data, no SST globals: tests import it directly.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { type Config, parseConfig } from "../packages/core/src/config.ts";
import { parseConfigYaml } from "../packages/core/src/config-yaml.ts";
import { parseDestination } from "../packages/core/src/destination.ts";
import { isKotsBackupError } from "../packages/core/src/errors.ts";
import { secretUses } from "./permissions.ts";

export const CONFIG_FILE = "kots-backup.yaml";
export const CONFIG_PATH_ENV = "KOTS_BACKUP_CONFIG";

const DAY_MS = 86_400_000;

/** Lifecycle defaults when the config does not set them (core's expectedLifecycleRules has the same). */
export const DEFAULT_LIFECYCLE = { tierAfterDays: 30, expireAfterDays: 90, noncurrentDays: 30 } as const;

export type ObjectLockMode = "GOVERNANCE" | "COMPLIANCE";

export interface ObjectLockSettings {
  mode: ObjectLockMode;
  /** Default retention of every new object version, in days. */
  days: number;
}

/** A deploy-time config problem; the message names the file and the field, then the fix. */
export class DeployConfigError extends Error {
  readonly field: string | undefined;
  constructor(
    file: string,
    message: string,
    options: { field?: string; fix?: string; cause?: unknown } = {},
  ) {
    super(`${file}: ${message}${options.fix ? `\n  fix: ${options.fix}` : ""}`, { cause: options.cause });
    this.name = "DeployConfigError";
    this.field = options.field;
  }
}

export interface VpcSettings {
  privateSubnets: string[];
  securityGroups: string[];
}

/** Everything infra/ derives from the config. */
export interface DeploySettings {
  /** The validated config (durations in ms). */
  config: Config;
  /** The document as written, with the destination pointed at the stack's bucket at deploy time. */
  document: Record<string, unknown>;
  bucket: {
    /** Exact bucket name from `export.destination: s3://name/prefix`; undefined: SST generates one. */
    name?: string;
    /** Destination prefix without slashes at either end ("" for the bucket root), as core's layout uses it. */
    prefix: string;
  };
  lifecycle: { tierAfterDays: number; expireAfterDays: number; noncurrentDays: number };
  objectLock?: ObjectLockSettings;
  /** Addresses subscribed to the alarm topic (the pipeline's own backstop). */
  alarmEmails: string[];
  /** Subnets and security groups for the functions that reach a private cluster API. */
  vpc?: VpcSettings;
}

function days(ms: number): number {
  return Math.max(1, Math.ceil(ms / DAY_MS));
}

/** Path of the deploy-time config: env KOTS_BACKUP_CONFIG, else kots-backup.yaml under `root`. */
export function configPath(env: NodeJS.ProcessEnv = process.env, root = process.cwd()): string {
  const fromEnv = env[CONFIG_PATH_ENV];
  if (fromEnv) return isAbsolute(fromEnv) ? fromEnv : resolve(root, fromEnv);
  return resolve(root, CONFIG_FILE);
}

/** Reads, parses and validates the config file; throws DeployConfigError naming the field. */
export function loadDeploySettings(path = configPath()): DeploySettings {
  if (!existsSync(path)) {
    throw new DeployConfigError(path, "not found", {
      fix: `copy kots-backup.example.yaml to ${CONFIG_FILE} and adjust it, or set ${CONFIG_PATH_ENV}`,
    });
  }
  let document: unknown;
  try {
    document = parseConfigYaml(readFileSync(path, "utf8"));
  } catch (error) {
    // A tag where a plain value belongs names its field, as the schema's refusals do.
    if (isKotsBackupError(error) && error.code !== "invalid-yaml") {
      throw new DeployConfigError(path, error.message, {
        ...(error.field === undefined ? {} : { field: error.field }),
        ...(error.fix === undefined ? {} : { fix: error.fix }),
        cause: error,
      });
    }
    throw new DeployConfigError(path, `is ${(error as Error).message.split("\n")[0]}`, {
      fix: "fix the syntax",
      cause: error,
    });
  }
  return deploySettings(document, path);
}

/** Validates a parsed document with the shared schema, then the AWS-specific rules. */
export function deploySettings(document: unknown, file = CONFIG_FILE): DeploySettings {
  let config: Config;
  try {
    config = parseConfig(document);
  } catch (error) {
    if (isKotsBackupError(error)) {
      throw new DeployConfigError(file, error.message, {
        ...(error.field === undefined ? {} : { field: error.field }),
        ...(error.fix === undefined ? {} : { fix: error.fix }),
        cause: error,
      });
    }
    throw error;
  }
  const doc = (document ?? {}) as Record<string, unknown>;
  const fail = (field: string, message: string, fix: string): never => {
    throw new DeployConfigError(file, `${field}: ${message}`, { field, fix });
  };

  // Reaching the cluster from Lambda: a kubeconfig file does not exist there.
  if (!config.cluster.credentials && !config.cluster.eks) {
    fail(
      "cluster.credentials",
      "is required on AWS (a kubeconfig file is not available to Lambda)",
      "set cluster.credentials to sst:ClusterCredentials (JSON {server, caData, token}) or a Secrets Manager ARN, or set cluster.eks",
    );
  }
  // The live drill runs in onDemand: a file drill.cluster names does not exist there either.
  const drillCluster = config.drill?.cluster;
  if (drillCluster?.kubeconfig !== undefined)
    fail(
      "drill.cluster.kubeconfig",
      "cannot be used on AWS (a kubeconfig file is not available to Lambda)",
      "replace it with drill.cluster.credentials: sst:DrClusterCredentials (JSON {server, caData, token}) or a Secrets Manager ARN, or with drill.cluster.eks and credentials holding {server, caData}",
    );
  if (drillCluster?.caFile !== undefined)
    fail(
      "drill.cluster.caFile",
      "cannot be used on AWS (a CA file is not available to Lambda)",
      "remove it and put the DR cluster's CA in the caData of the drill.cluster.credentials secret",
    );
  // env: and file: references name things that do not exist inside the functions.
  for (const use of secretUses(config)) {
    if (use.kind === "env" || use.kind === "file") {
      fail(
        use.field,
        `"${use.ref}" cannot be resolved in Lambda`,
        "use sst:Name (an sst.Secret) or a Secrets Manager ARN",
      );
    }
  }

  // The export destination: the stack creates the bucket.
  const writtenDestination = (doc["export"] as Record<string, unknown> | undefined)?.["destination"];
  let bucket: DeploySettings["bucket"] = { prefix: "" };
  if (writtenDestination !== undefined) {
    const destination = parseDestination(config.export.destination);
    if ("problem" in destination || destination.kind !== "s3") {
      fail(
        "export.destination",
        "must be s3://bucket/prefix on AWS (Lambda has no lasting disk)",
        "write s3://<bucket>/<prefix>, or remove it to let the stack name the bucket",
      );
    } else {
      bucket = { name: destination.bucket, prefix: destination.prefix };
    }
  }
  // A `command` recovery point runs an executable the functions do not have.
  const command = config.external.findIndex((p) => p.kind === "command");
  if (command >= 0) {
    fail(
      `external[${command}].kind`,
      "command cannot run on AWS Lambda",
      "watch it from the kots-backup daemon, or use kind rds, aws-backup or s3",
    );
  }
  if (config.export.endpoint) {
    fail("export.endpoint", "is not used on AWS: the stack creates an S3 bucket", "remove export.endpoint");
  }

  const lifecycle = config.export.lifecycle;
  const objectLock = config.export.objectLock;
  return {
    config,
    document: doc,
    bucket,
    lifecycle: {
      tierAfterDays:
        lifecycle?.tierAfter === undefined ? DEFAULT_LIFECYCLE.tierAfterDays : days(lifecycle.tierAfter),
      expireAfterDays:
        lifecycle?.retention === undefined ? DEFAULT_LIFECYCLE.expireAfterDays : days(lifecycle.retention),
      noncurrentDays:
        lifecycle?.noncurrentVersions === undefined
          ? DEFAULT_LIFECYCLE.noncurrentDays
          : days(lifecycle.noncurrentVersions),
    },
    ...(objectLock ? { objectLock: { mode: objectLock.mode, days: days(objectLock.retention) } } : {}),
    alarmEmails: config.alerts.email ?? [],
    ...(config.aws?.vpc ? { vpc: config.aws.vpc } : {}),
  };
}

// Builds the export's object stores from the config (`export.*`): the destination (S3 or a local
// folder), and the source BSL for the full scope (only when `export.bsl` gives direct access).
import { resolve } from "node:path";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { InputError, type ObjectStore } from "@kots-backup/core";
import type { ExportConfig } from "@kots-backup/core/config";
import { parseDestination } from "@kots-backup/core/destination";
import { resolveSecret } from "../secrets/resolve.ts";
import { LocalFolderStore } from "../store/local-folder.ts";
import { S3Store } from "../store/s3.ts";

type S3Credentials = NonNullable<ExportConfig["credentials"]>;

export interface StoreOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

async function clientConfig(
  settings: {
    endpoint?: string | undefined;
    region?: string | undefined;
    forcePathStyle?: boolean | undefined;
    credentials?: S3Credentials | undefined;
  },
  field: string,
  options: StoreOptions,
): Promise<S3ClientConfig> {
  const env = options.env ? { env: options.env } : {};
  const config: S3ClientConfig = {
    region: settings.region ?? options.env?.["AWS_REGION"] ?? process.env["AWS_REGION"] ?? "us-east-1",
    ...(settings.endpoint
      ? { endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle ?? true }
      : {}),
    ...(settings.forcePathStyle !== undefined ? { forcePathStyle: settings.forcePathStyle } : {}),
  };
  if (settings.credentials) {
    const c = settings.credentials;
    const [accessKeyId, secretAccessKey, sessionToken] = await Promise.all([
      resolveSecret(c.accessKeyId, { field: `${field}.credentials.accessKeyId`, ...env }),
      resolveSecret(c.secretAccessKey, { field: `${field}.credentials.secretAccessKey`, ...env }),
      c.sessionToken
        ? resolveSecret(c.sessionToken, { field: `${field}.credentials.sessionToken`, ...env })
        : undefined,
    ]);
    config.credentials = {
      accessKeyId: accessKeyId.reveal(),
      secretAccessKey: secretAccessKey.reveal(),
      ...(sessionToken ? { sessionToken: sessionToken.reveal() } : {}),
    };
  }
  return config;
}

/** The export destination (`export.destination`). */
export async function destinationStore(
  config: ExportConfig,
  options: StoreOptions = {},
): Promise<ObjectStore> {
  const parsed = parseDestination(config.destination);
  if ("problem" in parsed) {
    throw new InputError("invalid-config", `export.destination: ${parsed.problem}`, {
      field: "export.destination",
      fix: "write s3://bucket/prefix or a folder path",
    });
  }
  if (parsed.kind === "file")
    return new LocalFolderStore(
      parsed.relative ? resolve(options.cwd ?? process.cwd(), parsed.path) : parsed.path,
    );
  const client = new S3Client(await clientConfig(config, "export", options));
  return new S3Store({ bucket: parsed.bucket, prefix: parsed.prefix, client });
}

/**
 * The source BSL as a store, when `export.bsl` is configured (full scope); undefined otherwise, with
 * the reason. Its endpoint defaults to the destination's, its credentials to the default chain.
 */
export async function bslSourceStore(
  config: ExportConfig,
  bsl: { bucket?: string; prefix?: string; provider?: string },
  options: StoreOptions = {},
): Promise<{ store?: S3Store; reason?: string; serverSide: boolean }> {
  if (!config.bsl)
    return { reason: "no direct access to the BSL bucket is configured (export.bsl)", serverSide: false };
  if (!bsl.bucket) return { reason: "the default BackupStorageLocation names no bucket", serverSide: false };
  if (bsl.provider && !/aws|s3|minio/i.test(bsl.provider)) {
    return { reason: `the BSL's provider ${bsl.provider} is not S3-compatible`, serverSide: false };
  }
  const endpoint = config.bsl.endpoint ?? config.endpoint;
  const settings = {
    endpoint,
    region: config.bsl.region ?? config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: config.bsl.credentials ?? config.credentials,
  };
  const client = new S3Client(await clientConfig(settings, "export.bsl", options));
  const store = new S3Store({ bucket: bsl.bucket, prefix: bsl.prefix ?? "", client });
  const destination = parseDestination(config.destination);
  const sameEndpoint = (config.bsl.endpoint ?? config.endpoint) === config.endpoint;
  const sameCredentials =
    config.bsl.credentials === undefined ||
    JSON.stringify(config.bsl.credentials) === JSON.stringify(config.credentials);
  return {
    store,
    serverSide: !("problem" in destination) && destination.kind === "s3" && sameEndpoint && sameCredentials,
  };
}

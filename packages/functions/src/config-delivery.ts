/// <reference path="../../../sst-env.d.ts" />
// How the config reaches the functions: `sst deploy` validates kots-backup.yaml (infra/config.ts) and links
// it, with the stack's bucket, prefix and bus, as the `KotsBackupDeployment` linkable (infra/functions.ts).
// SST ships linked values encrypted inside the bundle, not in environment variables, so the 4 KB
// environment limit does not apply. The document is re-validated here with the same `parseConfig`, once
// per container. Tests fake it with env `SST_RESOURCE_KotsBackupDeployment` (JSON).
import { type Config, parseConfig } from "@kots-backup/core/config";
import { Resource } from "sst";

export const DEPLOYMENT_LINK = "KotsBackupDeployment";

export interface Deployment {
  /** The validated config; `export.destination` is `s3://<bucket>/<prefix>`. */
  config: Config;
  bucket: string;
  /** Destination prefix, no slash at either end ("" for the bucket root). */
  prefix: string;
  /** The stack's event bus (docs/contract.md §5 events). */
  busName: string;
}

interface LinkedDeployment {
  config: unknown;
  bucket: string;
  prefix: string;
  busName: string;
}

let cached: Deployment | undefined;

/** The deployment's config and resources. `source` replaces SST's `Resource` (tests). */
export function deployment(source?: Record<string, unknown>): Deployment {
  if (cached && source === undefined) return cached;
  const linked = (source ?? (Resource as unknown as Record<string, unknown>))[
    DEPLOYMENT_LINK
  ] as LinkedDeployment;
  const result: Deployment = {
    config: parseConfig(linked.config),
    bucket: linked.bucket,
    prefix: linked.prefix,
    busName: linked.busName,
  };
  if (source === undefined) cached = result;
  return result;
}

/** Forgets the cached deployment (tests). */
export function resetDeployment(): void {
  cached = undefined;
}

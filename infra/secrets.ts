// The `sst.Secret`s the config references with `sst:Name` (cluster credentials `{server, caData, token}`,
// PagerDuty routing key, Slack webhook, …): one per distinct name, linked only to the functions that read
// it (see permissions.ts `secretUses`). Linking an sst.Secret grants no IAM: SST puts its value, encrypted,
// in the function bundle. Secrets Manager ARNs in the config get `secretsmanager:GetSecretValue` instead.
// Set the values before the first deploy: `npx sst secret set <Name> <value> --stage <stage>`.
import type { Config } from "../packages/core/src/config.ts";
import { type FunctionName, sstSecretNames } from "./permissions.ts";

/** Names this stack uses for its own linkables; a config secret must not take one of them. */
export const RESERVED_LINK_NAMES = ["KotsBackupDeployment"] as const;

export function createSecrets(config: Config) {
  const secrets = new Map<string, sst.Secret>();
  for (const name of sstSecretNames(config)) {
    if ((RESERVED_LINK_NAMES as readonly string[]).includes(name)) {
      throw new Error(`kots-backup.yaml: sst:${name} is a name the stack uses itself; rename the secret`);
    }
    secrets.set(name, new sst.Secret(name));
  }
  return {
    secrets,
    /** The secrets `fn` reads, to pass as its `link`. */
    forFunction(fn: FunctionName): sst.Secret[] {
      return sstSecretNames(config, fn).flatMap((name) => secrets.get(name) ?? []);
    },
  };
}

export type Secrets = ReturnType<typeof createSecrets>;

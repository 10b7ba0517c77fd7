// The configured alert channels, in a module of their own: `notify` needs them without the runtime's
// cluster half (client-node, undici, ws: ~1.3 MB of bundle and init time; bench/results.md).
import type { Config } from "@kots-backup/core/config";
import { type Channel, channelsFromConfig } from "../alerts/index.ts";
import { rememberSecrets } from "./known-secrets.ts";

export interface AlertChannelOptions {
  env?: Record<string, string | undefined>;
  sstResource?: Record<string, unknown>;
  /** Channel kinds to leave out (notify does not send back to EventBridge). */
  exclude?: ReadonlyArray<"eventBridge" | "sns" | "pagerDuty" | "slack" | "webhook">;
}

/** The configured alert channels, secrets resolved (and remembered for redaction). */
export async function alertChannels(config: Config, options: AlertChannelOptions = {}): Promise<Channel[]> {
  const env = options.env ?? process.env;
  const fragment: Record<string, unknown> = { ...config.alerts };
  for (const kind of options.exclude ?? []) delete fragment[kind];
  const channels = await channelsFromConfig(fragment, {
    secrets: {
      env,
      ...(options.sstResource ? { sstResource: options.sstResource } : {}),
    },
  });
  for (const channel of channels) rememberSecrets(...(channel.secrets ?? []));
  return channels;
}

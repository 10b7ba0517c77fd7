// Builds the alert channels from the config's `alerts` fragment, resolving secret references.
// The fragment is typed structurally so this module does not depend on the config schema.
// AWS clients made here use `maxAttempts: 1`: deliver() owns the retries for every channel.
import { EventBridgeClient, type EventBridgeClientConfig } from "@aws-sdk/client-eventbridge";
import { SNSClient, type SNSClientConfig } from "@aws-sdk/client-sns";
import type { DetailType } from "@kots-backup/core";
import { InputError, isSecretRef } from "@kots-backup/core";
import { type ResolveSecretOptions, resolveSecret } from "../secrets/resolve.ts";
import type { Secret } from "../secrets/secret.ts";
import type { Channel } from "./channel.ts";
import { eventBridgeChannel } from "./eventbridge.ts";
import { pagerDutyChannel } from "./pagerduty.ts";
import { slackChannel } from "./slack.ts";
import { snsChannel } from "./sns.ts";
import { webhookChannel } from "./webhook.ts";

interface ChannelCommon {
  /** Detail types this channel sends (defaults per channel: all for EventBridge, paging ones otherwise). */
  detailTypes?: ReadonlyArray<DetailType>;
}

export interface AlertsConfigFragment {
  eventBridge?: ChannelCommon & { busName: string };
  sns?: ChannelCommon & { topicArn: string };
  pagerDuty?: ChannelCommon & { routingKey: string; eventsUrl?: string };
  slack?: ChannelCommon & { webhookUrl: string };
  /**
   * Header values are plain strings, or secret references (a string that is one, as the config
   * schema requires for credential-like header names, or `{ secret: "<reference>" }`).
   */
  webhook?: ChannelCommon & { url: string; headers?: Record<string, string | { secret: string }> };
}

export interface ChannelsFromConfigOptions {
  /** Config path of the fragment, for error messages (default `alerts`). */
  field?: string;
  /** Passed to resolveSecret (env, Secrets Manager client factory, SST resource, …). */
  secrets?: Omit<ResolveSecretOptions, "field">;
  /** Extra AWS client settings (endpoint, credentials) for EventBridge and SNS. */
  aws?: { region?: string; endpoint?: string; credentials?: EventBridgeClientConfig["credentials"] };
  eventBridgeClient?: EventBridgeClient;
  snsClient?: SNSClient;
}

const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

export async function channelsFromConfig(
  config: AlertsConfigFragment | undefined,
  options: ChannelsFromConfigOptions = {},
): Promise<Channel[]> {
  if (!config) return [];
  const prefix = options.field ?? "alerts";
  const resolve = (ref: string, field: string): Promise<Secret> =>
    resolveSecret(ref, { ...options.secrets, field: `${prefix}.${field}` });
  const awsBase = {
    maxAttempts: 1,
    ...(options.aws?.region ? { region: options.aws.region } : {}),
    ...(options.aws?.endpoint ? { endpoint: options.aws.endpoint } : {}),
    ...(options.aws?.credentials ? { credentials: options.aws.credentials } : {}),
  };
  const channels: Channel[] = [];

  if (config.eventBridge) {
    const { busName, detailTypes } = config.eventBridge;
    if (!busName) {
      throw new InputError("alert-channel-invalid", `${prefix}.eventBridge.busName is empty`, {
        field: `${prefix}.eventBridge.busName`,
        fix: "name the event bus (or `default`)",
      });
    }
    channels.push(
      eventBridgeChannel({
        client: options.eventBridgeClient ?? new EventBridgeClient(awsBase),
        busName,
        ...(detailTypes ? { detailTypes } : {}),
      }),
    );
  }

  if (config.sns) {
    const { topicArn, detailTypes } = config.sns;
    const match = SNS_TOPIC_ARN.exec(topicArn);
    if (!match) {
      throw new InputError("alert-channel-invalid", `${prefix}.sns.topicArn is not an SNS topic ARN`, {
        field: `${prefix}.sns.topicArn`,
        fix: "use arn:aws:sns:<region>:<account>:<topic>",
      });
    }
    // A topic only takes Publish in its own region.
    const snsConfig: SNSClientConfig = { ...awsBase, region: match[1]! };
    channels.push(
      snsChannel({
        client: options.snsClient ?? new SNSClient(snsConfig),
        topicArn,
        ...(detailTypes ? { detailTypes } : {}),
      }),
    );
  }

  if (config.pagerDuty) {
    const { routingKey, eventsUrl, detailTypes } = config.pagerDuty;
    channels.push(
      pagerDutyChannel({
        routingKey: await resolve(routingKey, "pagerDuty.routingKey"),
        ...(eventsUrl ? { eventsUrl } : {}),
        ...(detailTypes ? { detailTypes } : {}),
      }),
    );
  }

  if (config.slack) {
    const { webhookUrl, detailTypes } = config.slack;
    channels.push(
      slackChannel({
        webhookUrl: await resolve(webhookUrl, "slack.webhookUrl"),
        ...(detailTypes ? { detailTypes } : {}),
      }),
    );
  }

  if (config.webhook) {
    const { url, headers, detailTypes } = config.webhook;
    const resolvedHeaders: Record<string, string | Secret> = {};
    for (const [key, value] of Object.entries(headers ?? {})) {
      if (typeof value !== "string") {
        resolvedHeaders[key] = await resolve(value.secret, `webhook.headers.${key}.secret`);
      } else if (isSecretRef(value)) {
        resolvedHeaders[key] = await resolve(value, `webhook.headers.${key}`);
      } else {
        resolvedHeaders[key] = value;
      }
    }
    channels.push(
      webhookChannel({
        url: await resolve(url, "webhook.url"),
        headers: resolvedHeaders,
        ...(detailTypes ? { detailTypes } : {}),
      }),
    );
  }
  return channels;
}

// `notify`: subscribed to the stack's bus for the paging detail types (docs/contract.md §5). Rebuilds the
// KotsBackupEvent from the EventBridge envelope and delivers it to the configured channels (PagerDuty,
// Slack, webhook, SNS; never back to EventBridge, where it came from) with `deliver` (per-channel retries).
// The invocation fails, so that EventBridge retries it, only when a channel failed in a way worth
// retrying (timeouts, 429, 5xx); a channel that refuses for good (bad routing key, 4xx) is logged and
// dropped, since a retry would fail the same way. A retry re-sends to every channel: PagerDuty
// deduplicates on the dedup key; Slack may show the line twice.
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { type Channel, DeliveryError, deliver } from "@kots-backup/adapters/alerts/index";
import { alertChannels } from "@kots-backup/adapters/runtime/alert-channels";
import {
  DetailType,
  EnvironmentError,
  EVENT_SOURCE,
  type EventDetail,
  InputError,
  type KotsBackupEvent,
} from "@kots-backup/core";
import type { EventBridgeEvent } from "aws-lambda";
import { deployment } from "./config-delivery.ts";
import { lambdaHandler } from "./lib/handler.ts";

type BusEvent = EventBridgeEvent<string, unknown>;

const DETAIL_TYPES: readonly string[] = Object.values(DetailType);

/** The product event inside an EventBridge envelope; InputError naming the field when it is not one. */
export function fromEnvelope(envelope: BusEvent): KotsBackupEvent {
  const bad = (field: string, problem: string) =>
    new InputError("invalid-event", `${field}: ${problem}`, {
      field,
      fix: `subscribe notify only to source "${EVENT_SOURCE}" events (infra/alerting.ts)`,
    });
  if (typeof envelope !== "object" || envelope === null) throw bad("event", "is not an EventBridge event");
  if (envelope.source !== EVENT_SOURCE) throw bad("source", `must be "${EVENT_SOURCE}"`);
  const detailType = envelope["detail-type"];
  if (!DETAIL_TYPES.includes(detailType))
    throw bad("detail-type", `must be one of ${DETAIL_TYPES.join(", ")}`);
  const detail = envelope.detail as Partial<EventDetail> | undefined;
  if (typeof detail !== "object" || detail === null || Array.isArray(detail))
    throw bad("detail", "must be an object");
  if (typeof detail.cluster !== "string" || detail.cluster === "") throw bad("detail.cluster", "is required");
  if (typeof detail.dedupKey !== "string" || detail.dedupKey === "")
    throw bad("detail.dedupKey", "is required");
  const time =
    typeof envelope.time === "string" && !Number.isNaN(Date.parse(envelope.time))
      ? envelope.time
      : new Date().toISOString();
  return { detailType: detailType as DetailType, detail: detail as EventDetail, time };
}

/** Each channel's last error, so that a failed delivery can be told retryable or not. */
function watched(channels: readonly Channel[]): { channels: Channel[]; lastError: Map<string, unknown> } {
  const lastError = new Map<string, unknown>();
  return {
    lastError,
    channels: channels.map((channel) => ({
      ...channel,
      async send(event, options) {
        try {
          await channel.send(event, options);
          lastError.delete(channel.name);
        } catch (error) {
          lastError.set(channel.name, error);
          throw error;
        }
      },
    })),
  };
}

let channelsCache: Promise<Channel[]> | undefined;

function configuredChannels(): Promise<Channel[]> {
  channelsCache ??= alertChannels(deployment().config, { exclude: ["eventBridge"] });
  channelsCache.catch(() => {
    channelsCache = undefined;
  });
  return channelsCache;
}

/** Forgets the channels built by earlier invocations (tests change the config between them). */
export function resetNotifyChannels(): void {
  channelsCache = undefined;
}

export const handler = lambdaHandler<BusEvent, { detailType: string; deliveries: unknown[] }>(
  async (envelope, { logger, metrics }) => {
    const event = fromEnvelope(envelope);
    logger.appendKeys({
      detailType: event.detailType,
      dedupKey: event.detail.dedupKey,
      eventId: envelope.id,
    });
    const { channels, lastError } = watched(await configuredChannels());
    const results = await deliver(channels, event, {
      log: (line) =>
        logger[line.level](`alert channel ${line.channel}, attempt ${line.attempt}: ${line.message}`),
    });
    const failed = results.filter((r) => !r.ok);
    const retryable = failed.filter((r) => {
      const error = lastError.get(r.channel);
      return error instanceof DeliveryError && error.retryable;
    });
    metrics.addMetric("AlertDeliveryFailures", MetricUnit.Count, failed.length);
    for (const r of failed) {
      logger.error(`could not deliver ${event.detailType} to ${r.channel}`, {
        channel: r.channel,
        attempts: r.attempts,
        reason: r.error,
        retryable: retryable.includes(r),
      });
    }
    const deliveries = results.map((r) => ({
      channel: r.channel,
      ok: r.ok,
      attempts: r.attempts,
      ...(r.skipped ? { skipped: true } : {}),
      ...(r.error ? { error: r.error } : {}),
    }));
    logger.info(`${event.detailType} delivered`, { deliveries });
    if (retryable.length > 0) {
      throw new EnvironmentError(
        "alert-delivery-failed",
        `could not deliver ${event.detailType} to ${retryable.map((r) => r.channel).join(", ")}: ${retryable.map((r) => r.error).join("; ")}`,
        {
          fix: "EventBridge retries this invocation; check the channel's status and the function's network access",
        },
      );
    }
    return { detailType: event.detailType, deliveries };
  },
);

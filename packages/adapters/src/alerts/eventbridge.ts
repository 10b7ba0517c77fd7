// EventBridge channel: the bus is the product's event stream (docs/contract.md §5), so by default every
// detail type goes out. `Source: "kots-backup"`, `DetailType`, `Detail` = the event's detail as JSON.
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from "@aws-sdk/client-eventbridge";
import type { DetailType, KotsBackupEvent } from "@kots-backup/core";
import { EVENT_SOURCE } from "@kots-backup/core";
import type { Channel, SendOptions } from "./channel.ts";
import { DeliveryError, DeliveryFailure, fromAwsError } from "./errors.ts";

export interface EventBridgeChannelOptions {
  client: EventBridgeClient;
  /** Bus name or ARN (`default` for the account's default bus). */
  busName: string;
  /** Detail types to send (default: all). */
  detailTypes?: ReadonlyArray<DetailType>;
  name?: string;
}

/** PutEvents entry error codes worth another attempt. */
const RETRYABLE_ENTRY_CODES = new Set(["ThrottlingException", "InternalFailure", "InternalException"]);

export function eventBridgeChannel(options: EventBridgeChannelOptions): Channel {
  const name = options.name ?? "eventbridge";
  return {
    name,
    ...(options.detailTypes ? { detailTypes: options.detailTypes } : {}),
    async send(event: KotsBackupEvent, sendOptions: SendOptions = {}): Promise<void> {
      const command = new PutEventsCommand({
        Entries: [
          {
            Source: EVENT_SOURCE,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
            EventBusName: options.busName,
            Time: new Date(event.time),
          },
        ],
      });
      let out: PutEventsCommandOutput;
      try {
        out = await options.client.send(command, { abortSignal: sendOptions.signal });
      } catch (error) {
        throw fromAwsError(name, error);
      }
      if ((out.FailedEntryCount ?? 0) > 0) {
        const entry = out.Entries?.find((e) => e.ErrorCode) ?? {};
        const code = entry.ErrorCode ?? "unknown";
        throw new DeliveryError(
          name,
          `PutEvents rejected the event on bus ${options.busName}: ${code}${entry.ErrorMessage ? ` (${entry.ErrorMessage})` : ""}`,
          {
            retryable: RETRYABLE_ENTRY_CODES.has(code),
            failure:
              code === "ThrottlingException"
                ? DeliveryFailure.throttled
                : RETRYABLE_ENTRY_CODES.has(code)
                  ? DeliveryFailure.serverError
                  : DeliveryFailure.rejected,
          },
        );
      }
    },
  };
}

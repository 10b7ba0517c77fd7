// SNS channel: a readable message for email/SMS subscribers, a short Subject, and message attributes
// (`detailType`, `cluster`, `schedule`) that subscription filter policies can match on.
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { DetailType, KotsBackupEvent } from "@kots-backup/core";
import { type Channel, PAGING_DETAIL_TYPES, type SendOptions } from "./channel.ts";
import { fromAwsError } from "./errors.ts";
import { describeEvent, plainText } from "./messages.ts";

export interface SnsChannelOptions {
  client: SNSClient;
  topicArn: string;
  /** Detail types to send (default: Check Down, Check Up, Backup Failed, Export Failed). */
  detailTypes?: ReadonlyArray<DetailType>;
  name?: string;
}

/** SNS wants a Subject "less than 100 characters", ASCII, without line breaks or control characters. */
export const SNS_SUBJECT_MAX = 99;

export function snsSubject(event: KotsBackupEvent): string {
  const ascii = `kots-backup: ${describeEvent(event).title}`
    .normalize("NFKD")
    .replace(/\s+/g, " ")
    .replace(/[^\x20-\x7e]/g, "")
    .trim();
  return ascii.length <= SNS_SUBJECT_MAX ? ascii : `${ascii.slice(0, SNS_SUBJECT_MAX - 3)}...`;
}

export function snsChannel(options: SnsChannelOptions): Channel {
  const name = options.name ?? "sns";
  return {
    name,
    detailTypes: options.detailTypes ?? PAGING_DETAIL_TYPES,
    async send(event: KotsBackupEvent, sendOptions: SendOptions = {}): Promise<void> {
      const attributes: Record<string, { DataType: string; StringValue: string }> = {
        detailType: { DataType: "String", StringValue: event.detailType },
        cluster: { DataType: "String", StringValue: event.detail.cluster },
      };
      if (event.detail.schedule)
        attributes.schedule = { DataType: "String", StringValue: event.detail.schedule };
      try {
        await options.client.send(
          new PublishCommand({
            TopicArn: options.topicArn,
            Subject: snsSubject(event),
            Message: plainText(event),
            MessageAttributes: attributes,
          }),
          { abortSignal: sendOptions.signal },
        );
      } catch (error) {
        throw fromAwsError(name, error);
      }
    },
  };
}

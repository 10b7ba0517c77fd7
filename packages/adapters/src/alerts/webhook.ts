// Generic webhook channel: POSTs `{ detailType, detail, time }` as JSON, with optional static
// headers (values may be Secrets, e.g. an Authorization token; they are redacted like the URL).
import type { DetailType, KotsBackupEvent } from "@kots-backup/core";
import { Secret } from "../secrets/secret.ts";
import { type Channel, PAGING_DETAIL_TYPES, type SendOptions } from "./channel.ts";
import { postJson } from "./http.ts";
import { assertHttpUrl } from "./url.ts";

export interface WebhookChannelOptions {
  url: Secret;
  headers?: Record<string, string | Secret>;
  /** Detail types to send (default: Check Down, Check Up, Backup Failed, Export Failed). */
  detailTypes?: ReadonlyArray<DetailType>;
  name?: string;
}

export interface WebhookBody {
  detailType: DetailType;
  detail: KotsBackupEvent["detail"];
  time: string;
}

export function webhookBody(event: KotsBackupEvent): WebhookBody {
  return { detailType: event.detailType, detail: event.detail, time: event.time };
}

export function webhookChannel(options: WebhookChannelOptions): Channel {
  const name = options.name ?? "webhook";
  assertHttpUrl(name, options.url);
  const headerSecrets = Object.values(options.headers ?? {}).filter((v): v is Secret => v instanceof Secret);
  const secrets = [options.url, ...headerSecrets];
  return {
    name,
    detailTypes: options.detailTypes ?? PAGING_DETAIL_TYPES,
    secrets,
    async send(event: KotsBackupEvent, sendOptions: SendOptions = {}): Promise<void> {
      const headers = Object.fromEntries(
        Object.entries(options.headers ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : v.reveal()]),
      );
      await postJson(name, options.url, webhookBody(event), {
        headers,
        secrets,
        ...(sendOptions.signal ? { signal: sendOptions.signal } : {}),
      });
    },
  };
}

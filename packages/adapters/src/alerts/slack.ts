// Slack incoming-webhook channel: a coloured attachment (red for bad news, green for good, grey
// otherwise) holding a header block (≤ 150 chars) and one mrkdwn section (≤ 3,000 chars), plus the
// plain `text` fallback that notifications and old clients show.
import type { DetailType, KotsBackupEvent } from "@kots-backup/core";
import type { Secret } from "../secrets/secret.ts";
import { type Channel, PAGING_DETAIL_TYPES, type SendOptions } from "./channel.ts";
import { postJson } from "./http.ts";
import { describeEvent, type Tone } from "./messages.ts";
import { assertHttpUrl } from "./url.ts";

export const SLACK_SECTION_MAX = 3000;
export const SLACK_HEADER_MAX = 150;

export const SLACK_COLORS: Record<Tone, string> = { bad: "#d92d20", good: "#2eb67d", neutral: "#8d99a6" };

export interface SlackChannelOptions {
  webhookUrl: Secret;
  /** Detail types to send (default: Check Down, Check Up, Backup Failed, Export Failed). */
  detailTypes?: ReadonlyArray<DetailType>;
  name?: string;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface SlackMessage {
  text: string;
  attachments: {
    color: string;
    blocks: (
      | { type: "header"; text: { type: "plain_text"; text: string } }
      | { type: "section"; text: { type: "mrkdwn"; text: string } }
    )[];
  }[];
}

export function slackMessage(event: KotsBackupEvent): SlackMessage {
  const t = describeEvent(event);
  const lines = [slackEscape(t.summary), "", ...t.facts.map((f) => slackEscape(f))];
  if (t.nextSteps.length) lines.push("", "*Next step*", ...t.nextSteps.map((s) => `• ${slackEscape(s)}`));
  return {
    text: clip(t.summary, SLACK_SECTION_MAX),
    attachments: [
      {
        color: SLACK_COLORS[t.tone],
        blocks: [
          { type: "header", text: { type: "plain_text", text: clip(t.title, SLACK_HEADER_MAX) } },
          { type: "section", text: { type: "mrkdwn", text: clip(lines.join("\n"), SLACK_SECTION_MAX) } },
        ],
      },
    ],
  };
}

export function slackChannel(options: SlackChannelOptions): Channel {
  const name = options.name ?? "slack";
  assertHttpUrl(name, options.webhookUrl);
  return {
    name,
    detailTypes: options.detailTypes ?? PAGING_DETAIL_TYPES,
    secrets: [options.webhookUrl],
    async send(event: KotsBackupEvent, sendOptions: SendOptions = {}): Promise<void> {
      await postJson(name, options.webhookUrl, slackMessage(event), {
        secrets: [options.webhookUrl],
        ...(sendOptions.signal ? { signal: sendOptions.signal } : {}),
      });
    },
  };
}

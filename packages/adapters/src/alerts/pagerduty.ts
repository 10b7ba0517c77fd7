// PagerDuty Events API v2 channel.
//   Check Down    → trigger, severity critical, dedup_key = detail.dedupKey (one incident per check)
//   Check Up      → resolve, the same dedup_key, so the incident Check Down opened closes
//   Backup Failed → trigger, severity error,   dedup_key = `<dedupKey>:backup-failed:<backup>`
//   Export Failed → trigger, severity error,   dedup_key = `<dedupKey>:export-failed:<backup>`
//   Backup Skipped (only if configured) → trigger, severity warning, keyed by the event time
// Each failed backup or export is its own alert (a second failure of another backup must page
// again, while a retried delivery of the same failure must not): these alerts are not resolved
// automatically; the check's Check Down/Check Up pair tracks the ongoing state.
// dedup_key is at most 255 characters: longer keys keep a prefix plus a SHA-256 of the whole key.
import { createHash } from "node:crypto";
import type { KotsBackupEvent } from "@kots-backup/core";
import { DetailType, InputError } from "@kots-backup/core";
import type { Secret } from "../secrets/secret.ts";
import { type Channel, INCIDENT_DETAIL_TYPES, PAGING_DETAIL_TYPES, type SendOptions } from "./channel.ts";
import { DeliveryError, DeliveryFailure } from "./errors.ts";
import { postJson } from "./http.ts";
import { describeEvent, summaryOf } from "./messages.ts";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";
export const PAGERDUTY_DEDUP_KEY_MAX = 255;
export const PAGERDUTY_SUMMARY_MAX = 1024;

export type PagerDutySeverity = "critical" | "error" | "warning" | "info";

export interface PagerDutyEvent {
  routing_key: string;
  event_action: "trigger" | "acknowledge" | "resolve";
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
}

/** Detail types the PagerDuty channel knows how to send. */
export const PAGERDUTY_DETAIL_TYPES: ReadonlyArray<DetailType> = [
  ...PAGING_DETAIL_TYPES,
  DetailType.backupSkipped,
];

export interface PagerDutyChannelOptions {
  /** The integration's 32-character routing key. */
  routingKey: Secret;
  /** Events API URL (default {@link PAGERDUTY_EVENTS_URL}; tests point it at a local receiver). */
  eventsUrl?: string;
  /** Detail types to send (default: Check Down, Check Up, Backup Failed, Export Failed). */
  detailTypes?: ReadonlyArray<DetailType>;
  name?: string;
}

function clampDedupKey(key: string): string {
  if (key.length <= PAGERDUTY_DEDUP_KEY_MAX) return key;
  const digest = createHash("sha256").update(key).digest("hex");
  return `${key.slice(0, PAGERDUTY_DEDUP_KEY_MAX - digest.length - 1)}:${digest}`;
}

/** The dedup_key this event is sent under (see the file comment). */
export function pagerDutyDedupKey(event: KotsBackupEvent): string {
  const base = event.detail.dedupKey;
  const backup =
    typeof event.detail.backup === "string" && event.detail.backup ? event.detail.backup : undefined;
  switch (event.detailType) {
    case DetailType.backupFailed:
      return clampDedupKey(`${base}:backup-failed:${backup ?? event.time}`);
    case DetailType.exportFailed:
      return clampDedupKey(`${base}:export-failed:${backup ?? event.time}`);
    case DetailType.backupSkipped:
      return clampDedupKey(`${base}:backup-skipped:${event.time}`);
    default:
      return clampDedupKey(base);
  }
}

function severityOf(event: KotsBackupEvent): PagerDutySeverity {
  if (event.detailType === DetailType.checkDown) return "critical";
  if (event.detailType === DetailType.backupSkipped) return "warning";
  return "error";
}

/** The Events API v2 body for an event (routing key included: never log it). */
export function pagerDutyEvent(event: KotsBackupEvent, routingKey: string): PagerDutyEvent {
  const dedupKey = pagerDutyDedupKey(event);
  if (event.detailType === DetailType.checkUp) {
    return { routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey };
  }
  const text = describeEvent(event);
  const d = event.detail;
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    payload: {
      summary: summaryOf(event, PAGERDUTY_SUMMARY_MAX),
      source: d.cluster,
      severity: severityOf(event),
      timestamp: event.time,
      ...(d.schedule ? { component: d.schedule } : {}),
      group: d.cluster,
      class: event.detailType,
      custom_details: {
        ...d,
        facts: text.facts,
        ...(text.nextSteps.length ? { next_steps: text.nextSteps } : {}),
      },
    },
  };
}

export function pagerDutyChannel(options: PagerDutyChannelOptions): Channel {
  const name = options.name ?? "pagerduty";
  const detailTypes = options.detailTypes ?? INCIDENT_DETAIL_TYPES;
  const unsupported = detailTypes.filter((t) => !PAGERDUTY_DETAIL_TYPES.includes(t));
  if (unsupported.length) {
    throw new InputError(
      "alert-channel-invalid",
      `${name}: cannot send ${unsupported.join(", ")} to PagerDuty`,
      {
        fix: `choose detail types among ${PAGERDUTY_DETAIL_TYPES.join(", ")}`,
      },
    );
  }
  if (options.routingKey.reveal().length !== 32) {
    throw new InputError(
      "alert-channel-invalid",
      `${name}: the routing key from ${options.routingKey.source} is not a 32-character integration key`,
      { fix: "use the Integration Key of a PagerDuty Events API v2 integration" },
    );
  }
  const url = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
  return {
    name,
    detailTypes,
    secrets: [options.routingKey],
    async send(event: KotsBackupEvent, sendOptions: SendOptions = {}): Promise<void> {
      const body = pagerDutyEvent(event, options.routingKey.reveal());
      const { text } = await postJson(name, url, body, {
        secrets: [options.routingKey],
        ...(sendOptions.signal ? { signal: sendOptions.signal } : {}),
      });
      let status: unknown;
      try {
        status = (JSON.parse(text) as { status?: unknown }).status;
      } catch {
        status = undefined;
      }
      if (status !== "success") {
        throw new DeliveryError(
          name,
          "the Events API accepted the request but did not answer status success",
          { retryable: false, failure: DeliveryFailure.badAnswer },
        );
      }
    },
  };
}

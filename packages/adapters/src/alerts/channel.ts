// Alert channels and their delivery: every channel is tried on its own (one failing channel never
// blocks or delays the others' result), with bounded, capped, jittered retries on transient errors.
import type { DetailType, KotsBackupEvent } from "@kots-backup/core";
import { DetailType as DT } from "@kots-backup/core";
import { type RetryPolicy, withRetry } from "../retry.ts";
import { redactor, type Secret } from "../secrets/secret.ts";
import { DeliveryError, DeliveryFailure } from "./errors.ts";

export interface SendOptions {
  /** Aborted when the attempt's time is up; channels pass it to fetch / the AWS SDK. */
  signal?: AbortSignal;
}

export interface Channel {
  /** Short, stable, not secret: `pagerduty`, `slack`, `eventbridge`, … */
  name: string;
  /** One attempt. Throws DeliveryError (or any error) on failure. */
  send(event: KotsBackupEvent, options?: SendOptions): Promise<void>;
  /** Detail types this channel sends; deliver() skips the others. Absent: all. */
  detailTypes?: ReadonlyArray<DetailType>;
  /** Secret values this channel holds, scrubbed from every error message and log line. */
  secrets?: ReadonlyArray<Secret>;
}

/** Incident open/close: what PagerDuty pages on by default, so each incident is one page. A failed
 * backup reaches on-call as the Check Down (reason `failed`) that verify raises for it. */
export const INCIDENT_DETAIL_TYPES: ReadonlyArray<DetailType> = [DT.checkDown, DT.checkUp];

/** What notification channels (Slack, SNS, webhook) send unless configured otherwise. */
export const PAGING_DETAIL_TYPES: ReadonlyArray<DetailType> = [
  DT.checkDown,
  DT.checkUp,
  DT.backupFailed,
  DT.exportFailed,
];

/** Channels retry longer than cluster calls: a page that is late is better than a page that is lost. */
export const CHANNEL_RETRY_POLICY: RetryPolicy & { attemptTimeoutMs: number } = Object.freeze({
  maxAttempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  /** A Retry-After longer than this stops the retries (the peer will not take us sooner). */
  maxRetryAfterMs: 60_000,
  /** Per-attempt time limit; the attempt is aborted and counts as retryable. */
  attemptTimeoutMs: 10_000,
});

export interface DeliverLogLine {
  level: "warn" | "error";
  channel: string;
  attempt: number;
  message: string;
}

export interface DeliverOptions {
  policy?: Partial<typeof CHANNEL_RETRY_POLICY>;
  /** Waits between attempts (default: setTimeout). Tests pass a recorder. */
  sleep?: (ms: number) => Promise<void>;
  /** Uniform [0, 1) for jitter (default Math.random). */
  random?: () => number;
  /** Receives one redacted line per failed attempt. */
  log?: (line: DeliverLogLine) => void;
}

export interface DeliveryResult {
  channel: string;
  ok: boolean;
  /** Attempts made (0 when the channel does not send this detail type). */
  attempts: number;
  /** True when the channel does not send this detail type. */
  skipped?: boolean;
  /** Redacted reason of the last failure (for logs: it may quote the peer's answer). */
  error?: string;
  /** The last failure's class and HTTP status: all that may be stored of it. */
  failure?: DeliveryFailure;
  status?: number;
}

/** Sends `event` to every channel that takes its detail type; never throws. */
export async function deliver(
  channels: ReadonlyArray<Channel>,
  event: KotsBackupEvent,
  options: DeliverOptions = {},
): Promise<DeliveryResult[]> {
  return Promise.all(channels.map((channel) => deliverOne(channel, event, options)));
}

async function deliverOne(
  channel: Channel,
  event: KotsBackupEvent,
  options: DeliverOptions,
): Promise<DeliveryResult> {
  if (channel.detailTypes && !channel.detailTypes.includes(event.detailType)) {
    return { channel: channel.name, ok: true, attempts: 0, skipped: true };
  }
  const policy = { ...CHANNEL_RETRY_POLICY, ...options.policy };
  const scrub = redactor(channel.secrets ?? []);
  const asFailure = (error: unknown) => asDeliveryError(channel.name, error, scrub);
  let attempts = 0;
  try {
    await withRetry(
      (attempt) => {
        attempts = attempt;
        return attemptWithTimeout(channel, event, policy.attemptTimeoutMs);
      },
      {
        policy,
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(options.random ? { random: options.random } : {}),
        classify: (error) => {
          const failure = asFailure(error);
          if (!failure.retryable) return { retry: false };
          return failure.retryAfterMs === undefined
            ? { retry: true }
            : { retry: true, retryAfterMs: failure.retryAfterMs };
        },
        onRetry: ({ attempt, delayMs, error }) => {
          const message = scrub(asFailure(error).message);
          options.log?.({
            level: "warn",
            channel: channel.name,
            attempt,
            message: `${message}; retrying in ${delayMs} ms`,
          });
        },
      },
    );
    return { channel: channel.name, ok: true, attempts };
  } catch (error) {
    const failure = asFailure(error);
    const stop = !failure.retryable
      ? "not retryable"
      : attempts >= policy.maxAttempts
        ? `gave up after ${attempts} attempts`
        : `peer asked to retry after ${Math.ceil((failure.retryAfterMs ?? 0) / 1000)} s, over the ${Math.ceil(policy.maxRetryAfterMs / 1000)} s limit`;
    const message = `${scrub(failure.message)} (${stop})`;
    options.log?.({ level: "error", channel: channel.name, attempt: attempts, message });
    return {
      channel: channel.name,
      ok: false,
      attempts,
      error: message,
      failure: failure.failure,
      ...(failure.status === undefined ? {} : { status: failure.status }),
    };
  }
}

async function attemptWithTimeout(
  channel: Channel,
  event: KotsBackupEvent,
  timeoutMs: number,
): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new DeliveryError(channel.name, `attempt timed out after ${timeoutMs} ms`, {
          retryable: true,
          failure: DeliveryFailure.timeout,
        }),
      );
      controller.abort();
    }, timeoutMs);
  });
  let sending: Promise<void>;
  try {
    sending = Promise.resolve(channel.send(event, { signal: controller.signal }));
  } catch (error) {
    clearTimeout(timer);
    throw error;
  }
  // A send that settles after the timeout must not surface as an unhandled rejection.
  sending.catch(() => {});
  try {
    await Promise.race([sending, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function asDeliveryError(channel: string, error: unknown, scrub: (text: string) => string): DeliveryError {
  if (error instanceof DeliveryError) return error;
  // An unexpected error (a bug, a bad argument): report it, do not retry it.
  const name = error instanceof Error ? error.name : "Error";
  const message = scrub(error instanceof Error ? error.message : String(error));
  return new DeliveryError(channel, `${name}: ${message.slice(0, 300)}`, {
    retryable: false,
    failure: DeliveryFailure.unexpected,
  });
}

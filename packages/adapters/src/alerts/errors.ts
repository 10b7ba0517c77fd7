// The one error an alert channel throws. Messages name the channel, never its URL, routing key or
// token; `retryable` tells deliver() whether another attempt can help.
import { EnvironmentError } from "@kots-backup/core";
import { transientNetworkCode } from "../retry.ts";

export interface DeliveryErrorOptions {
  /** Another attempt may succeed (429, 5xx, timeout, connection error, throttling). */
  retryable: boolean;
  /** HTTP status of the peer's answer, when there was one. */
  status?: number;
  /** The peer asked to wait this long before retrying (Retry-After). */
  retryAfterMs?: number;
}

export class DeliveryError extends EnvironmentError {
  readonly channel: string;
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(channel: string, message: string, options: DeliveryErrorOptions) {
    super("alert-delivery-failed", `${channel}: ${message}`, {
      fix: `check the ${channel} channel's settings and that the service is reachable (kots-backup doctor)`,
    });
    this.name = "DeliveryError";
    this.channel = channel;
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** AWS error names that mean "slow down" even when the status is 400. */
const AWS_THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "Throttled",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "ProvisionedThroughputExceededException",
  "SlowDown",
  "LimitExceededException",
]);

const AWS_TIMEOUTS = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException"]);

/**
 * Turns an AWS SDK error into a DeliveryError: throttling, 5xx and network errors are retryable,
 * other 4xx and errors without an answer (missing credentials or region) are not. The message holds
 * the AWS error name, status and the service's message (which names resources, not credentials).
 */
export function fromAwsError(channel: string, error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const name = typeof e?.name === "string" ? e.name : "Error";
  const status = e?.$metadata?.httpStatusCode;
  const code = transientNetworkCode(error);
  if (code) return new DeliveryError(channel, `connection error (${code})`, { retryable: true });
  const retryable =
    AWS_THROTTLING.has(name) ||
    AWS_TIMEOUTS.has(name) ||
    e?.$retryable !== undefined ||
    (status !== undefined && (status === 429 || status >= 500));
  const awsMessage = (error as { message?: unknown })?.message;
  const detail = typeof awsMessage === "string" && awsMessage ? `: ${awsMessage.slice(0, 300)}` : "";
  return new DeliveryError(channel, `${name}${status ? ` (HTTP ${status})` : ""}${detail}`, {
    retryable,
    ...(status === undefined ? {} : { status }),
  });
}

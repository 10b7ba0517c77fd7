// The one error an alert channel throws. Messages name the channel, never its URL, routing key or
// token; `retryable` tells deliver() whether another attempt can help; `failure` and `status` are
// all that is ever stored of it (the message may quote a peer's answer: logs only).
import { EnvironmentError } from "@kots-backup/core";
import { DeliveryFailure } from "@kots-backup/core/usecases/verify-state";
import { transientNetworkCode } from "../retry.ts";

export { DeliveryFailure };

export interface DeliveryErrorOptions {
  /** Another attempt may succeed (429, 5xx, timeout, connection error, throttling). */
  retryable: boolean;
  /** HTTP status of the peer's answer, when there was one. */
  status?: number;
  /** The peer asked to wait this long before retrying (Retry-After). */
  retryAfterMs?: number;
  /** Default: from `status` (see {@link failureOfStatus}), else `unexpected`. */
  failure?: DeliveryFailure;
}

/** The failure class of an HTTP error status. */
export function failureOfStatus(status: number): DeliveryFailure {
  if (status === 429) return DeliveryFailure.throttled;
  if (status === 408) return DeliveryFailure.timeout;
  if (status >= 500) return DeliveryFailure.serverError;
  return DeliveryFailure.rejected;
}

export class DeliveryError extends EnvironmentError {
  readonly channel: string;
  readonly retryable: boolean;
  readonly failure: DeliveryFailure;
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(channel: string, message: string, options: DeliveryErrorOptions) {
    super("alert-delivery-failed", `${channel}: ${message}`, {
      fix: `check the ${channel} channel's settings and that the service is reachable (kots-backup doctor)`,
    });
    this.name = "DeliveryError";
    this.channel = channel;
    this.retryable = options.retryable;
    this.failure =
      options.failure ??
      (options.status === undefined ? DeliveryFailure.unexpected : failureOfStatus(options.status));
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
  if (code) {
    return new DeliveryError(channel, `connection error (${code})`, {
      retryable: true,
      failure: DeliveryFailure.connection,
    });
  }
  const failure = AWS_THROTTLING.has(name)
    ? DeliveryFailure.throttled
    : AWS_TIMEOUTS.has(name)
      ? DeliveryFailure.timeout
      : status !== undefined
        ? failureOfStatus(status)
        : e?.$retryable !== undefined
          ? DeliveryFailure.connection
          : // No answer and no network error: missing credentials or region.
            DeliveryFailure.notSent;
  const retryable =
    AWS_THROTTLING.has(name) ||
    AWS_TIMEOUTS.has(name) ||
    e?.$retryable !== undefined ||
    (status !== undefined && (status === 429 || status >= 500));
  const awsMessage = (error as { message?: unknown })?.message;
  const detail = typeof awsMessage === "string" && awsMessage ? `: ${awsMessage.slice(0, 300)}` : "";
  return new DeliveryError(channel, `${name}${status ? ` (HTTP ${status})` : ""}${detail}`, {
    retryable,
    failure,
    ...(status === undefined ? {} : { status }),
  });
}

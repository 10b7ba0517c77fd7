// The one wrapper every Lambda handler uses: middy 7 with the Powertools logger and metrics, an error
// logger, and an early-timeout signal so work stops cleanly (state saved) before Lambda's hard limit.
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { redactedError, redactKnown, redactValue } from "@kots-backup/adapters/runtime/known-secrets";
import { isKotsBackupError, METRICS_NAMESPACE, SERVICE_NAME } from "@kots-backup/core";
import middy, { type MiddlewareObj } from "@middy/core";
import errorLogger from "@middy/error-logger";
import type { Context } from "aws-lambda";

export interface HandlerTools {
  /** Aborted `earlyTimeoutMs` before Lambda's deadline: stop, save progress, return. */
  signal: AbortSignal;
  logger: Logger;
  metrics: Metrics;
  context: Context;
}

export interface HandlerOptions<TEvent = unknown, TResult = unknown> {
  /** How long before the Lambda deadline the signal aborts (default 30 s: room to save state). */
  earlyTimeoutMs?: number;
  logger?: Logger;
  metrics?: Metrics;
  /** Event middlewares (validation…), run after logging is set up and before the work. */
  middlewares?: MiddlewareObj<TEvent, TResult, Error, Context>[];
}

/** Every string a log line carries passes through here: known secret values never reach the logs. */
export const redactingReplacer = (_key: string, value: unknown): unknown => {
  if (typeof value === "string") return redactKnown(value);
  if (value instanceof Error)
    return redactValue({ name: value.name, message: value.message, stack: value.stack });
  return value;
};

/**
 * The error the caller (console, Scheduler's DLQ, EventBridge) sees: product errors keep their class
 * and fields with message, stack and fix scrubbed (the stack repeats the message); others are copied.
 */
function redactError(error: unknown): Error {
  if (isKotsBackupError(error)) {
    for (const field of ["message", "stack", "fix"] as const) {
      const text = error[field];
      if (typeof text !== "string") continue;
      const scrubbed = redactKnown(text);
      if (scrubbed !== text) Object.defineProperty(error, field, { value: scrubbed });
    }
    return error;
  }
  return redactedError(error instanceof Error ? error : new Error(String(error)));
}

/** Logs the failure once: product errors with their code, field and fix; anything else as unexpected. */
function logErrors<TEvent, TResult>(logger: Logger): MiddlewareObj<TEvent, TResult, Error, Context> {
  return errorLogger({
    logger: (request) => {
      const error = request.error;
      if (isKotsBackupError(error)) logger.error(error.message, { error: error.toJSON() });
      else logger.error("unexpected error", { error: error as Error });
    },
  });
}

/** Scrubs known secrets from the error; runs before logErrors, so what is logged and returned is clean. */
function scrubErrors<TEvent, TResult>(): MiddlewareObj<TEvent, TResult, Error, Context> {
  return {
    onError: (request) => {
      request.error = redactError(request.error);
    },
  };
}

export function lambdaHandler<TEvent, TResult>(
  work: (event: TEvent, tools: HandlerTools) => Promise<TResult>,
  options: HandlerOptions<TEvent, TResult> = {},
) {
  const logger =
    options.logger ?? new Logger({ serviceName: SERVICE_NAME, jsonReplacerFn: redactingReplacer });
  const metrics = options.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const earlyTimeoutMs = options.earlyTimeoutMs ?? 30_000;
  return middy<TEvent, TResult, Error, Context>({
    // Hard stop, 1 s before the deadline, only for work that ignored the graceful signal below.
    timeoutEarlyInMillis: HARD_STOP_MS,
    timeoutEarlyResponse: () => {
      throw new Error("stopped before the Lambda timeout; the next run resumes the work");
    },
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(logErrors(logger))
    .use(scrubErrors())
    .use(options.middlewares ?? [])
    .handler(async (event, context) => {
      const graceful = new AbortController();
      const timer = setTimeout(
        () => graceful.abort(),
        Math.max(0, context.getRemainingTimeInMillis() - earlyTimeoutMs),
      );
      try {
        return await work(event, { signal: graceful.signal, logger, metrics, context });
      } finally {
        clearTimeout(timer);
      }
    });
}

const HARD_STOP_MS = 1_000;

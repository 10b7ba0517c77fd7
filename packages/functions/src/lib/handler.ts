// The one wrapper every Lambda handler uses: middy 7 with the Powertools logger and metrics, an error
// logger, and an early-timeout signal so work stops cleanly (state saved) before Lambda's hard limit.
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { isKotsBackupError } from "@kots-backup/core";
import middy from "@middy/core";
import errorLogger from "@middy/error-logger";
import type { Context } from "aws-lambda";

export const SERVICE_NAME = "kots-backup";
export const METRICS_NAMESPACE = "KotsBackup";

export interface HandlerTools {
  /** Aborted `earlyTimeoutMs` before Lambda's deadline: stop, save progress, return. */
  signal: AbortSignal;
  logger: Logger;
  metrics: Metrics;
  context: Context;
}

export interface HandlerOptions {
  /** How long before the Lambda deadline the signal aborts (default 30 s: room to save state). */
  earlyTimeoutMs?: number;
  logger?: Logger;
  metrics?: Metrics;
}

export function lambdaHandler<TEvent, TResult>(
  work: (event: TEvent, tools: HandlerTools) => Promise<TResult>,
  options: HandlerOptions = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: SERVICE_NAME });
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
    .use(
      errorLogger({
        logger: (request) => {
          const error = request.error;
          if (isKotsBackupError(error)) logger.error(error.message, { error: error.toJSON() });
          else logger.error("unexpected error", { error: error as Error });
        },
      }),
    )
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

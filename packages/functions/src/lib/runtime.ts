// What a handler runs on inside Lambda: the shared runtime (@kots-backup/adapters/runtime) built from the
// deployment's config, and the event stream (docs/contract.md §5) on the stack's bus. One runtime per invocation
// (its port-forward is closed at the end, before Lambda freezes the container); the bus clients, the
// secrets (Secrets Manager values are cached 5 minutes) and the config are kept per container.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Channel } from "@kots-backup/adapters/alerts/index";
import { busChannel, Runtime } from "@kots-backup/adapters/runtime/index";
import { deliveryPort } from "@kots-backup/adapters/runtime/verify-wiring";
import type { KotsBackupEvent } from "@kots-backup/core";
import type { DeliverPort } from "@kots-backup/core/usecases/verify";
import { type Deployment, deployment } from "../config-delivery.ts";

export interface LambdaRuntime {
  deployment: Deployment;
  runtime: Runtime;
  /** Puts an event on the stack's bus (and on `alerts.eventBridge`'s bus when that is another one). Never throws. */
  emit: (event: KotsBackupEvent) => Promise<void>;
  /** The same channels as a verify delivery port (outbox semantics: failures are retried by the next run). */
  deliverPort: DeliverPort;
  /** Names of the event-stream channels (what a verify outbox entry waits for). */
  streamChannels: readonly string[];
}

let streamCache: { busName: string; channels: Channel[] } | undefined;

/** The event-stream channels: the stack's bus, plus the user's EventBridge bus when configured and distinct. */
function streamChannels(dep: Deployment): Channel[] {
  if (streamCache?.busName === dep.busName) return streamCache.channels;
  const channels = [busChannel(dep.busName)];
  const user = dep.config.alerts.eventBridge;
  if (user && user.busName !== dep.busName) {
    channels.push(busChannel(user.busName, "eventbridge"));
  }
  streamCache = { busName: dep.busName, channels };
  return channels;
}

/** The runtime of one invocation. Call `runtime.close()` when done. */
export function lambdaRuntime(logger: Logger): LambdaRuntime {
  const dep = deployment();
  const runtime = new Runtime(dep.config, {
    warn: (message) => logger.warn(message),
    log: (message, fields) => logger.debug(message, fields ?? {}),
  });
  const channels = streamChannels(dep);
  const deliverPort: DeliverPort = deliveryPort(channels, (level, message) =>
    logger[level](`event stream ${message}`),
  );
  const emit = async (event: KotsBackupEvent) => {
    const outcomes = await deliverPort(event);
    for (const o of outcomes.filter((x) => !x.ok)) {
      logger.error(`could not put ${event.detailType} on the event stream`, {
        channel: o.channel,
        reason: o.error,
      });
    }
    logger.info(event.detailType, {
      backup: event.detail.backup,
      schedule: event.detail.schedule,
      delivered: outcomes.filter((o) => o.ok).map((o) => o.channel),
    });
  };
  return { deployment: dep, runtime, emit, deliverPort, streamChannels: channels.map((c) => c.name) };
}

/** Use-case log lines (`UseCaseLog`) into the Powertools logger. */
export function useCaseLog(logger: Logger) {
  return (level: "info" | "warn", message: string, fields?: Record<string, unknown>) =>
    logger[level](message, fields ?? {});
}

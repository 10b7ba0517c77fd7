// One observer for every kind of external recovery point (core's ExternalObserver), as verify's sources
// use it. `command` runs only where it is allowed: the daemon and the CLI, never a Lambda.
import type { BackupClient } from "@aws-sdk/client-backup";
import type { RDSClient } from "@aws-sdk/client-rds";
import type { S3Client } from "@aws-sdk/client-s3";
import type { ExternalPointConfig } from "@kots-backup/core/config";
import { InputError } from "@kots-backup/core/errors";
import type { ExternalObserver } from "@kots-backup/core/usecases/verify-external";
import { awsBackupClient, observeAwsBackup } from "./aws-backup.ts";
import { observeCommand } from "./command.ts";
import type { AwsClientSettings } from "./observation.ts";
import { observeRds, rdsClient } from "./rds.ts";
import { observeS3, s3Client } from "./s3.ts";

export interface ObserverOptions {
  /** False on Lambda: a `command` point is refused (InputError naming it). */
  allowCommand: boolean;
  /** Defaults for every AWS client (tests: the peer's credentials). */
  aws?: AwsClientSettings;
}

/** Refuses `command` points where they cannot run, naming the first one (before any side effect). */
export function checkRunnable(
  points: readonly ExternalPointConfig[],
  options: Pick<ObserverOptions, "allowCommand">,
): void {
  if (options.allowCommand) return;
  const index = points.findIndex((p) => p.kind === "command");
  if (index >= 0) {
    throw new InputError(
      "invalid-config",
      `external[${index}].kind: command cannot run on AWS Lambda (${points[index]?.name})`,
      {
        field: `external[${index}].kind`,
        fix: "watch it from the kots-backup daemon, or use kind rds, aws-backup or s3",
      },
    );
  }
}

/** The observer of `points`; AWS clients are made once per point and reused across runs. */
export function externalObserver(
  points: readonly ExternalPointConfig[],
  options: ObserverOptions,
): ExternalObserver {
  checkRunnable(points, options);
  const clients = new Map<string, RDSClient | BackupClient | { source: S3Client; replica?: S3Client }>();
  const once = <T>(name: string, make: () => T): T => {
    if (!clients.has(name)) clients.set(name, make() as never);
    return clients.get(name) as T;
  };
  return async (point, now) => {
    switch (point.kind) {
      case "rds":
        return observeRds(
          point,
          now,
          once(point.name, () => rdsClient(point, options.aws)),
        );
      case "aws-backup":
        return observeAwsBackup(
          point,
          now,
          once(point.name, () => awsBackupClient(point, options.aws)),
        );
      case "s3":
        return observeS3(
          point,
          now,
          once(point.name, () => ({
            source: s3Client(point, point.forcePathStyle, options.aws),
            ...(point.replica ? { replica: s3Client(point.replica, point.forcePathStyle, options.aws) } : {}),
          })),
        );
      case "command":
        checkRunnable([point], options);
        return observeCommand(point, now);
    }
  };
}

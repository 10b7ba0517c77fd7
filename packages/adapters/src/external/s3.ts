// A bucket the app stores data in as a recovery point. Versioning must be on (else `unprotected`); then
// - with `replica`: the replica's newest object under its prefix is the recovery point (a bounded
//   listing; a prefix the app writes often keeps it small);
// - without: an enabled replication rule is required (else `unprotected`), and the data counts as
//   protected up to now (S3 replicates continuously; its lag and failures are in S3's replication
//   metrics, which this does not read).
// IAM: s3:GetBucketVersioning, s3:GetReplicationConfiguration, s3:ListBucket on the replica.
import {
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import type { ExternalPointConfig } from "@kots-backup/core/config";
import type { ExternalObservation } from "@kots-backup/core/external";
import {
  type AwsClientSettings,
  awsFailure,
  type Candidate,
  clientSettings,
  observe,
  shown,
  timeOf,
} from "./observation.ts";

type S3Point = Extract<ExternalPointConfig, { kind: "s3" }>;

/** Objects listed at most in the replica (10 pages): past that, the prefix is too broad to date. */
export const MAX_REPLICA_OBJECTS = 10_000;

export function s3Client(
  where: { region?: string | undefined; endpoint?: string | undefined },
  forcePathStyle: boolean | undefined,
  defaults?: AwsClientSettings,
): S3Client {
  return new S3Client({
    ...clientSettings(where, defaults),
    ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
  });
}

function isNotFound(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | undefined)?.name === name;
}

export async function observeS3(
  point: S3Point,
  now: Date,
  clients: { source: S3Client; replica?: S3Client },
): Promise<ExternalObservation> {
  let versioning: string | undefined;
  try {
    versioning = (await clients.source.send(new GetBucketVersioningCommand({ Bucket: point.bucket }))).Status;
  } catch (error) {
    return awsFailure(`s3:GetBucketVersioning on ${point.bucket}`, error);
  }
  const versioned = versioning === "Enabled";
  const versioningText = `versioning ${versioned ? "on" : shown(versioning ?? "never enabled")}`;

  if (point.replica) {
    const { bucket, prefix } = point.replica;
    const candidates: Candidate[] = [];
    try {
      for await (const page of paginateListObjectsV2(
        { client: clients.replica ?? clients.source, pageSize: 1000 },
        { Bucket: bucket, ...(prefix ? { Prefix: prefix } : {}) },
      )) {
        for (const o of page.Contents ?? [])
          candidates.push({ at: timeOf(o.LastModified), id: o.Key ?? "", good: true });
        if (candidates.length >= MAX_REPLICA_OBJECTS && page.IsTruncated) {
          return {
            reachable: false,
            detail: `replica ${bucket}${prefix ? `/${shown(prefix)}` : ""} holds more than ${MAX_REPLICA_OBJECTS} objects: set replica.prefix to a folder the app writes often`,
          };
        }
      }
    } catch (error) {
      return awsFailure(`s3:ListBucket on replica ${bucket}`, error);
    }
    const observation = observe(candidates, now, `object in replica ${bucket}`);
    return {
      ...observation,
      ...(versioned ? {} : { unprotected: true }),
      detail: `${versioningText}; ${observation.detail}`,
    };
  }

  let rules: string[] = [];
  try {
    const out = await clients.source.send(new GetBucketReplicationCommand({ Bucket: point.bucket }));
    rules = (out.ReplicationConfiguration?.Rules ?? [])
      .filter((r) => r.Status === "Enabled")
      .map((r) => shown(r.Destination?.Bucket ?? "?"));
  } catch (error) {
    if (!isNotFound(error, "ReplicationConfigurationNotFoundError"))
      return awsFailure(`s3:GetReplicationConfiguration on ${point.bucket}`, error);
  }
  const protectedNow = versioned && rules.length > 0;
  return {
    reachable: true,
    ...(protectedNow
      ? { newestAt: now.toISOString().replace(/\.\d{3}Z$/, "Z"), newestId: point.bucket }
      : {}),
    ...(protectedNow ? {} : { unprotected: true }),
    detail: `${versioningText}; ${rules.length > 0 ? `replicated to ${rules.join(", ")}` : "no enabled replication rule"}`,
  };
}

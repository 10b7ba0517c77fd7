// The export bucket: the off-cluster copy of every KOTS snapshot (docs/contract.md §6 layout). Its expected
// settings come from core's bucket-policy.ts, the same data `doctor` checks a bucket against, mapped here
// to Pulumi arguments: versioning, SSE-KMS with a bucket key (a stack-owned KMS key), public access
// blocked, the TLS-only policy, the lifecycle rules, and optional Object Lock with a default retention.
import {
  expectedBucketSettings,
  expectedLifecycleRules,
  type LifecycleRule,
  tlsOnlyStatement,
} from "../packages/core/src/bucket-policy.ts";
import type { DeploySettings, ObjectLockSettings } from "./config.ts";

export type StorageSettings = Pick<DeploySettings, "bucket" | "lifecycle" | "objectLock">;

/** Default encryption: SSE-KMS with an S3 Bucket Key (cuts KMS requests; landscape.md). */
export const ENCRYPTION = { sseAlgorithm: "aws:kms", bucketKeyEnabled: true } as const;

/** Core's lifecycle rules for this deployment (S3 API shape). */
export function lifecycleRulesFor(settings: StorageSettings): LifecycleRule[] {
  return expectedLifecycleRules({
    prefix: settings.bucket.prefix,
    tierAfterDays: settings.lifecycle.tierAfterDays,
    expireAfterDays: settings.lifecycle.expireAfterDays,
    noncurrentDays: settings.lifecycle.noncurrentDays,
  });
}

/** The bucket policy document: core's TLS-only statement, nothing else. */
export function bucketPolicyFor(bucketName: string, partition = "aws") {
  const statement = tlsOnlyStatement(bucketName);
  const resources = statement["Resource"] as string[];
  return {
    Version: "2012-10-17",
    // Core writes `arn:aws:`; keep the statement as is but in the deployment's partition.
    Statement: [
      { ...statement, Resource: resources.map((arn) => arn.replace(/^arn:aws:/, `arn:${partition}:`)) },
    ],
  };
}

/** Object Lock configuration in the S3 API shape (PutObjectLockConfiguration). */
export function objectLockConfigurationFor(lock: ObjectLockSettings) {
  return {
    ObjectLockEnabled: "Enabled",
    Rule: { DefaultRetention: { Mode: lock.mode, Days: lock.days } },
  } as const;
}

/** S3 API lifecycle rule → `aws.s3.BucketLifecycleConfiguration` rule. */
export function toPulumiLifecycleRule(rule: LifecycleRule) {
  const and = rule.Filter.And;
  const filter = and
    ? {
        and: {
          ...(and.Prefix === undefined ? {} : { prefix: and.Prefix }),
          ...(and.Tags ? { tags: Object.fromEntries(and.Tags.map((tag) => [tag.Key, tag.Value])) } : {}),
        },
      }
    : { prefix: rule.Filter.Prefix ?? "" };
  return {
    id: rule.ID,
    status: rule.Status,
    filter,
    ...(rule.AbortIncompleteMultipartUpload
      ? {
          abortIncompleteMultipartUpload: {
            daysAfterInitiation: rule.AbortIncompleteMultipartUpload.DaysAfterInitiation,
          },
        }
      : {}),
    ...(rule.Transitions
      ? { transitions: rule.Transitions.map((t) => ({ days: t.Days, storageClass: t.StorageClass })) }
      : {}),
    ...(rule.Expiration
      ? {
          expiration: {
            ...(rule.Expiration.Days === undefined ? {} : { days: rule.Expiration.Days }),
            ...(rule.Expiration.ExpiredObjectDeleteMarker === undefined
              ? {}
              : { expiredObjectDeleteMarker: rule.Expiration.ExpiredObjectDeleteMarker }),
          },
        }
      : {}),
    ...(rule.NoncurrentVersionExpiration
      ? {
          noncurrentVersionExpiration: {
            noncurrentDays: rule.NoncurrentVersionExpiration.NoncurrentDays,
            ...(rule.NoncurrentVersionExpiration.NewerNoncurrentVersions === undefined
              ? {}
              : { newerNoncurrentVersions: rule.NoncurrentVersionExpiration.NewerNoncurrentVersions }),
          },
        }
      : {}),
    ...(rule.NoncurrentVersionTransitions
      ? {
          noncurrentVersionTransitions: rule.NoncurrentVersionTransitions.map((t) => ({
            noncurrentDays: t.NoncurrentDays,
            storageClass: t.StorageClass,
          })),
        }
      : {}),
  };
}

export function createStorage(settings: StorageSettings) {
  // The public-access block as core expects it (the bucket name does not matter for it).
  const expected = expectedBucketSettings("", { prefix: settings.bucket.prefix });
  const partition = aws.getPartitionOutput({}).partition;

  const key = new aws.kms.Key("ExportsKey", {
    description: `${$app.name} ${$app.stage}: SSE-KMS key of the export bucket`,
    enableKeyRotation: true,
    deletionWindowInDays: 30,
  });
  new aws.kms.Alias("ExportsKeyAlias", {
    name: `alias/${$app.name}-${$app.stage}-exports`,
    targetKeyId: key.keyId,
  });

  const bucket = new sst.aws.Bucket("Exports", {
    versioning: true,
    cors: false,
    transform: {
      bucket: (args) => {
        if (settings.bucket.name) args.bucket = settings.bucket.name;
        // Exports are the product: a stage that retains its resources never empties the bucket on
        // removal, and a bucket with Object Lock cannot be emptied anyway.
        args.forceDestroy = $app.removal === "remove" && !settings.objectLock;
        // Object Lock can only be switched on when the bucket is created.
        if (settings.objectLock) args.objectLockEnabled = true;
      },
      publicAccessBlock: (args) => {
        args.blockPublicAcls = expected.publicAccessBlock.BlockPublicAcls;
        args.ignorePublicAcls = expected.publicAccessBlock.IgnorePublicAcls;
        args.blockPublicPolicy = expected.publicAccessBlock.BlockPublicPolicy;
        args.restrictPublicBuckets = expected.publicAccessBlock.RestrictPublicBuckets;
      },
      // Core's TLS-only statement, instead of SST's equivalent one, so `doctor` finds exactly it.
      policy: (args) => {
        args.policy = $resolve([partition, args.bucket]).apply(([p, name]) =>
          JSON.stringify(bucketPolicyFor(name, p)),
        );
      },
    },
  });

  const encryption = new aws.s3.BucketServerSideEncryptionConfiguration("ExportsEncryption", {
    bucket: bucket.name,
    rules: [
      {
        applyServerSideEncryptionByDefault: {
          sseAlgorithm: ENCRYPTION.sseAlgorithm,
          kmsMasterKeyId: key.arn,
        },
        bucketKeyEnabled: ENCRYPTION.bucketKeyEnabled,
      },
    ],
  });

  const lifecycle = new aws.s3.BucketLifecycleConfiguration("ExportsLifecycle", {
    bucket: bucket.name,
    rules: lifecycleRulesFor(settings).map(toPulumiLifecycleRule),
  });

  const lock = settings.objectLock ? objectLockConfigurationFor(settings.objectLock) : undefined;
  const objectLock = lock
    ? new aws.s3.BucketObjectLockConfiguration("ExportsObjectLock", {
        bucket: bucket.name,
        objectLockEnabled: lock.ObjectLockEnabled,
        rule: {
          defaultRetention: { mode: lock.Rule.DefaultRetention.Mode, days: lock.Rule.DefaultRetention.Days },
        },
      })
    : undefined;

  return { bucket, key, encryption, lifecycle, objectLock, prefix: settings.bucket.prefix };
}

export type Storage = ReturnType<typeof createStorage>;

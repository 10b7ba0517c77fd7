// The export bucket built under Pulumi mocks (infra/storage.ts), then the generated configurations
// applied to the moto S3 peer so that a malformed rule or policy fails there.
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { expectedLifecycleRules, lifecycleProblems } from "../../packages/core/src/bucket-policy.ts";
import { EXPIRABLE_TAG } from "../../packages/core/src/retention.ts";
import { describeWithMoto, motoS3, uniqueBucketName } from "../support/peers.ts";
import { byType, type MockResource, one, setupHarness } from "./harness.ts";

// biome-ignore lint/suspicious/noExplicitAny: Pulumi inputs are untyped JSON.
type Loose = any;

const LIFECYCLE = { tierAfterDays: 30, expireAfterDays: 120, noncurrentDays: 45 };

interface Built {
  resources: MockResource[];
  bucketName: string;
}

async function build(settings: Record<string, unknown>): Promise<Built> {
  const h = await setupHarness();
  const { createStorage } = await h.infra("storage.ts");
  const resources = await h.capture(() => createStorage({ lifecycle: LIFECYCLE, ...settings }));
  const bucket = one(resources, "aws:s3/bucket:Bucket");
  return { resources, bucketName: bucket.inputs["bucket"] as string };
}

/** What the AWS provider sends to S3 for a `BucketLifecycleConfiguration` rule (the fields we use). */
function toS3Rule(rule: Loose) {
  const filter = rule.filter.and
    ? {
        And: {
          Prefix: rule.filter.and.prefix,
          Tags: Object.entries(rule.filter.and.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
        },
      }
    : { Prefix: rule.filter.prefix };
  return {
    ID: rule.id,
    Status: rule.status,
    Filter: filter,
    ...(rule.abortIncompleteMultipartUpload
      ? {
          AbortIncompleteMultipartUpload: {
            DaysAfterInitiation: rule.abortIncompleteMultipartUpload.daysAfterInitiation,
          },
        }
      : {}),
    ...(rule.transitions
      ? { Transitions: rule.transitions.map((t: Loose) => ({ Days: t.days, StorageClass: t.storageClass })) }
      : {}),
    ...(rule.expiration
      ? {
          Expiration: {
            ...(rule.expiration.days === undefined ? {} : { Days: rule.expiration.days }),
            ...(rule.expiration.expiredObjectDeleteMarker === undefined
              ? {}
              : { ExpiredObjectDeleteMarker: rule.expiration.expiredObjectDeleteMarker }),
          },
        }
      : {}),
    ...(rule.noncurrentVersionExpiration
      ? { NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentVersionExpiration.noncurrentDays } }
      : {}),
  };
}

function rulesOf(resources: MockResource[]): Loose[] {
  return one(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"];
}

function rulePrefix(rule: Loose): string {
  return rule.filter.and?.prefix ?? rule.filter.prefix ?? "";
}

function hasAgeAction(rule: Loose): boolean {
  return Boolean(rule.transitions?.length || rule.expiration?.days || rule.noncurrentVersionExpiration);
}

describe("export bucket under Pulumi mocks", () => {
  let built: Built;
  beforeAll(async () => {
    built = await build({ bucket: { name: "acme-kots-exports", prefix: "prod-eu" } });
  });

  it("uses the bucket named by export.destination, versioned", () => {
    expect(built.bucketName).toBe("acme-kots-exports");
    expect(one(built.resources, "aws:s3/bucketVersioning:BucketVersioning").inputs).toMatchObject({
      bucket: "acme-kots-exports",
      versioningConfiguration: { status: "Enabled" },
    });
  });

  it("encrypts with SSE-KMS, its own rotating key, and a bucket key", () => {
    const key = one(built.resources, "aws:kms/key:Key");
    expect(key.inputs).toMatchObject({ enableKeyRotation: true });
    const encryption = one(
      built.resources,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    );
    expect(encryption.inputs["rules"]).toEqual([
      {
        applyServerSideEncryptionByDefault: {
          sseAlgorithm: "aws:kms",
          kmsMasterKeyId: `arn:aws:kms:us-east-1:123456789012:key/${key.name}-key-id`,
        },
        bucketKeyEnabled: true,
      },
    ]);
  });

  it("blocks every kind of public access", () => {
    expect(
      one(built.resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs,
    ).toMatchObject({
      blockPublicAcls: true,
      ignorePublicAcls: true,
      blockPublicPolicy: true,
      restrictPublicBuckets: true,
    });
  });

  it("has a policy with exactly the TLS-only deny", () => {
    const policy = JSON.parse(one(built.resources, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]);
    expect(policy).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "KotsBackupDenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: ["arn:aws:s3:::acme-kots-exports", "arn:aws:s3:::acme-kots-exports/*"],
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ],
    });
  });

  it("applies core's lifecycle rules for the prefix, with the configured ages", () => {
    const rules = rulesOf(built.resources);
    const expected = expectedLifecycleRules({ prefix: "prod-eu", ...LIFECYCLE });
    expect(rules.map(toS3Rule)).toEqual(expected);
    expect(lifecycleProblems(rules.map(toS3Rule) as Loose, "prod-eu")).toEqual([]);
  });

  it("aborts incomplete multipart uploads after one day", () => {
    const abort = rulesOf(built.resources).filter((r) => r.abortIncompleteMultipartUpload);
    expect(abort).toEqual([
      expect.objectContaining({
        filter: { prefix: "prod-eu/" },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      }),
    ]);
  });

  it("tiers to GLACIER_IR and expires velero/backups/ and manifests/ only when tagged expirable", () => {
    const rules = rulesOf(built.resources);
    for (const folder of ["velero/backups/", "manifests/"]) {
      const aging = rules.filter(
        (r) => rulePrefix(r) === `prod-eu/${folder}` && (r.transitions || r.expiration?.days),
      );
      expect(aging, folder).toHaveLength(1);
      expect(aging[0].filter.and.tags).toEqual({ [EXPIRABLE_TAG.key]: EXPIRABLE_TAG.value });
      expect(aging[0].transitions).toEqual([{ days: 30, storageClass: "GLACIER_IR" }]);
      expect(aging[0].expiration).toEqual({ days: 120 });
    }
    const untaggedAging = rules.filter((r) => (r.transitions || r.expiration?.days) && !r.filter.and?.tags);
    expect(untaggedAging).toEqual([]);
  });

  it("expires noncurrent versions after the configured window", () => {
    const noncurrent = rulesOf(built.resources).filter((r) => r.noncurrentVersionExpiration);
    expect(noncurrent.map(rulePrefix).sort()).toEqual(
      ["prod-eu/config/", "prod-eu/manifests/", "prod-eu/state/", "prod-eu/velero/backups/"].sort(),
    );
    for (const rule of noncurrent) expect(rule.noncurrentVersionExpiration).toEqual({ noncurrentDays: 45 });
  });

  it("puts no age rule on the kopia or restic repositories (only the abort-upload rule covers them)", () => {
    const keys = [
      "prod-eu/velero/kopia/default/p0123abc",
      "prod-eu/velero/restic/default/data/00/0a",
      "prod-eu/velero/kopia/",
    ];
    for (const key of keys) {
      const matching = rulesOf(built.resources).filter((rule) => key.startsWith(rulePrefix(rule)));
      for (const rule of matching) {
        expect(hasAgeAction(rule), `${rule.id} ages ${key}`).toBe(false);
        expect(Object.keys(rule).filter((k) => !["id", "status", "filter"].includes(k))).toEqual([
          "abortIncompleteMultipartUpload",
        ]);
      }
    }
  });

  it("has no Object Lock unless configured", () => {
    expect(
      byType(built.resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"),
    ).toEqual([]);
    expect(one(built.resources, "aws:s3/bucket:Bucket").inputs["objectLockEnabled"]).toBeUndefined();
  });

  it("with Object Lock configured: enabled at creation, default retention, never force-destroyed", async () => {
    const locked = await build({ bucket: { prefix: "" }, objectLock: { mode: "COMPLIANCE", days: 35 } });
    const bucket = one(locked.resources, "aws:s3/bucket:Bucket");
    expect(bucket.inputs).toMatchObject({ objectLockEnabled: true, forceDestroy: false });
    expect(bucket.inputs["bucket"]).toMatch(/^kots-backup-test-exportsbucket-/);
    expect(
      one(locked.resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").inputs,
    ).toEqual({
      bucket: bucket.inputs["bucket"],
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: "COMPLIANCE", days: 35 } },
    });
    // Root prefix: rules cover the bucket's own folders.
    expect(rulesOf(locked.resources).map(rulePrefix)).toContain("velero/backups/");
  });
});

describeWithMoto("generated bucket configuration applied to the moto S3 peer", () => {
  let s3: S3Client;
  let generated: Built;
  let locked: Built;
  beforeAll(async () => {
    s3 = motoS3();
    generated = await build({ bucket: { name: uniqueBucketName("kb-infra"), prefix: "prod-eu" } });
    locked = await build({
      bucket: { name: uniqueBucketName("kb-lock"), prefix: "" },
      objectLock: { mode: "GOVERNANCE", days: 7 },
    });
  });

  it("accepts versioning, encryption, public-access block, TLS-only policy and lifecycle, and reads them back", async () => {
    const Bucket = generated.bucketName;
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: "Enabled" } }));

    const encryption = one(
      generated.resources,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).inputs["rules"][0];
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: {
                SSEAlgorithm: encryption.applyServerSideEncryptionByDefault.sseAlgorithm,
                KMSMasterKeyID: encryption.applyServerSideEncryptionByDefault.kmsMasterKeyId,
              },
              BucketKeyEnabled: encryption.bucketKeyEnabled,
            },
          ],
        },
      }),
    );
    const readEncryption = await s3.send(new GetBucketEncryptionCommand({ Bucket }));
    expect(readEncryption.ServerSideEncryptionConfiguration?.Rules?.[0]).toMatchObject({
      ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms" },
      BucketKeyEnabled: true,
    });

    const block = one(generated.resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: block["blockPublicAcls"],
          IgnorePublicAcls: block["ignorePublicAcls"],
          BlockPublicPolicy: block["blockPublicPolicy"],
          RestrictPublicBuckets: block["restrictPublicBuckets"],
        },
      }),
    );
    expect(
      (await s3.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration,
    ).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });

    const policy = one(generated.resources, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"] as string;
    await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policy }));
    expect(JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy ?? "{}")).toEqual(
      JSON.parse(policy),
    );

    const rules = rulesOf(generated.resources).map(toS3Rule);
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: rules as Loose },
      }),
    );
    const readBack = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));
    expect(readBack.Rules?.map((r) => r.ID).sort()).toEqual(rules.map((r) => r.ID).sort());
    expect(lifecycleProblems((readBack.Rules ?? []) as Loose, "prod-eu")).toEqual([]);
  });

  it("refuses a malformed rule (the peer really validates)", async () => {
    const Bucket = uniqueBucketName("kb-bad");
    await s3.send(new CreateBucketCommand({ Bucket }));
    // A plausible mistake when merging rules: an expiry age and ExpiredObjectDeleteMarker in one rule.
    const bad = {
      ID: "bad",
      Status: "Enabled",
      Filter: { Prefix: "x/" },
      Expiration: { Days: 30, ExpiredObjectDeleteMarker: true },
    };
    const error = await s3
      .send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: { Rules: [bad as Loose] },
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(S3ServiceException);
  });

  it("accepts the Object Lock default retention on a bucket created with Object Lock", async () => {
    const Bucket = locked.bucketName;
    const lock = one(
      locked.resources,
      "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    ).inputs;
    expect(one(locked.resources, "aws:s3/bucket:Bucket").inputs["objectLockEnabled"]).toBe(true);
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: lock["objectLockEnabled"],
          Rule: {
            DefaultRetention: {
              Mode: lock["rule"].defaultRetention.mode,
              Days: lock["rule"].defaultRetention.days,
            },
          },
        },
      }),
    );
    const read = await s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
    expect(read.ObjectLockConfiguration).toMatchObject({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 7 } },
    });
    // The same lifecycle rules are accepted on the locked bucket (root prefix).
    const rules = rulesOf(locked.resources).map(toS3Rule);
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: rules as Loose },
      }),
    );
    expect((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules).toHaveLength(
      rules.length,
    );
  });
});

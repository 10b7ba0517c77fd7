// One small test per S3 feature kots-backup relies on, run against the moto peer, so that a peer gap
// shows up as one named test (toolchain.md §11). Known moto gaps are kept as `it.fails` with a comment
// naming the gap: if moto fixes it, the test starts "failing" and the marker must be removed.
import { createHash, randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectTaggingCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { beforeAll, describe, expect, it } from "vitest";
import { describeWithMoto, motoS3, uniqueBucketName } from "../support/peers.ts";

const MiB = 1024 * 1024;

function sha256b64(data: Buffer): string {
  return createHash("sha256").update(data).digest("base64");
}

async function statusOf(promise: Promise<unknown>): Promise<number | "ok"> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode ?? -1;
    throw error;
  }
}

describeWithMoto("moto S3 conformance", () => {
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = motoS3();
    bucket = uniqueBucketName("conf");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  describe("versioning", () => {
    it("is off on a new bucket, Enabled after PutBucketVersioning, Suspended after suspending", async () => {
      const b = uniqueBucketName("ver");
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status).toBeUndefined();
      await s3.send(
        new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: "Enabled" } }),
      );
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status).toBe("Enabled");
      await s3.send(new PutObjectCommand({ Bucket: b, Key: "k", Body: "one" }));
      await s3.send(new PutObjectCommand({ Bucket: b, Key: "k", Body: "two" }));
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: b, Prefix: "k" }));
      expect(versions.Versions).toHaveLength(2);
      await s3.send(
        new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: "Suspended" } }),
      );
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status).toBe("Suspended");
    });
  });

  describe("conditional writes", () => {
    it("PutObject IfNoneMatch '*' fails the second write with 412", async () => {
      const key = "cond/create-only";
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "first", IfNoneMatch: "*" }));
      const second = s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: "second", IfNoneMatch: "*" }),
      );
      expect(await statusOf(second)).toBe(412);
      const body = await (
        await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      ).Body?.transformToString();
      expect(body).toBe("first");
    });

    it("PutObject IfNoneMatch '*' is atomic: of 40 concurrent writers of one key exactly one wins", async () => {
      // Real S3 evaluates the condition atomically; moto 5.2.5 does not (check, then store, no lock),
      // which let two runs claim one schedule slot. The peer launcher (test/support/moto_server.py)
      // serialises conditional writes; this holds it to the standard exactly-once claims rely on.
      // 2 MiB bodies with a checksum widen moto's check-to-store window to where the race shows.
      const key = "cond/race";
      const body = randomBytes(2 * 1024 * 1024);
      const writers = Array.from({ length: 40 }, () =>
        motoS3().send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            IfNoneMatch: "*",
            ChecksumAlgorithm: "SHA256",
          }),
        ),
      );
      const statuses = await Promise.all(writers.map((w) => statusOf(w)));
      expect(statuses.filter((s) => s === "ok")).toHaveLength(1);
      expect(statuses.filter((s) => s === 412)).toHaveLength(39);
    });

    it("PutObject IfMatch with the current ETag succeeds and with a stale ETag fails with 412", async () => {
      const key = "cond/if-match";
      const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v1" }));
      const v2 = await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v2", IfMatch: v1.ETag }),
      );
      expect(v2.ETag).not.toBe(v1.ETag);
      const stale = s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v3", IfMatch: v1.ETag }));
      expect(await statusOf(stale)).toBe(412);
    });

    it("PutObject IfMatch on a missing key fails with 404 NoSuchKey", async () => {
      const status = await statusOf(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond/absent", Body: "x", IfMatch: '"abc"' })),
      );
      expect(status).toBe(404);
    });

    it("CompleteMultipartUpload IfNoneMatch '*' fails with 412 when the key exists", async () => {
      const key = "cond/mpu";
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "exists" }));
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const part = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(1024) }),
      );
      const complete = s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          IfNoneMatch: "*",
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      expect(await statusOf(complete)).toBe(412);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    });
    // moto gap (5.2.5): CompleteMultipartUpload honours IfNoneMatch but ignores IfMatch (AWS: 412).
    // S3Store sends If-Match only on single PutObject writes (state files are small), where moto honours it.
    it.fails("CompleteMultipartUpload IfMatch with a stale ETag fails with 412", async () => {
      const key = "cond/mpu-if-match";
      const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v1" }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "v2" }));
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const part = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(1024) }),
      );
      const complete = s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          IfMatch: v1.ETag,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      expect(await statusOf(complete)).toBe(412);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    });

    // moto gap (5.2.5): CopyObject ignores IfNoneMatch on the destination (AWS: 412).
    it.fails("CopyObject IfNoneMatch '*' fails with 412 when the destination exists", async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond/copy-src", Body: "src" }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond/copy-dst", Body: "dst" }));
      const copy = s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: "cond/copy-dst",
          CopySource: `${bucket}/cond/copy-src`,
          IfNoneMatch: "*",
        }),
      );
      expect(await statusOf(copy)).toBe(412);
    });

    // moto gap (5.2.5): CopyObject ignores x-amz-copy-source-if-match (AWS: 412), so a source replaced
    // during a copy is not detected by moto.
    it.fails("CopyObject CopySourceIfMatch with a stale source ETag fails with 412", async () => {
      const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond/copy-src2", Body: "one" }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond/copy-src2", Body: "two" }));
      const copy = s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: "cond/copy-dst2",
          CopySource: `${bucket}/cond/copy-src2`,
          CopySourceIfMatch: v1.ETag,
        }),
      );
      expect(await statusOf(copy)).toBe(412);
    });
  });

  describe("bucket configuration round trips", () => {
    it("lifecycle: tag filter, noncurrent expiration, abort incomplete MPU, transition to GLACIER_IR", async () => {
      await s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: bucket,
          LifecycleConfiguration: {
            Rules: [
              {
                ID: "tiering",
                Status: "Enabled",
                Filter: { And: { Prefix: "velero/", Tags: [{ Key: "kots-backup/tier", Value: "cold" }] } },
                Transitions: [{ Days: 0, StorageClass: "GLACIER_IR" }],
              },
              {
                ID: "noncurrent",
                Status: "Enabled",
                Filter: { Prefix: "" },
                NoncurrentVersionExpiration: { NoncurrentDays: 30, NewerNoncurrentVersions: 2 },
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 },
              },
              {
                ID: "by-tag",
                Status: "Enabled",
                Filter: { Tag: { Key: "kots-backup/expire", Value: "true" } },
                Expiration: { Days: 90 },
              },
            ],
          },
        }),
      );
      const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
      const byId = new Map((got.Rules ?? []).map((r) => [r.ID, r]));
      expect(byId.get("tiering")?.Transitions?.[0]).toMatchObject({ Days: 0, StorageClass: "GLACIER_IR" });
      expect(byId.get("tiering")?.Filter?.And?.Tags).toEqual([{ Key: "kots-backup/tier", Value: "cold" }]);
      expect(byId.get("noncurrent")?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(30);
      expect(byId.get("noncurrent")?.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 3 });
      expect(byId.get("by-tag")?.Filter?.Tag).toEqual({ Key: "kots-backup/expire", Value: "true" });
      expect(byId.get("by-tag")?.Expiration?.Days).toBe(90);
    });

    // moto gap (5.2.5): NoncurrentVersionExpiration.NewerNoncurrentVersions is dropped on
    // PutBucketLifecycleConfiguration (only NoncurrentDays is kept; the transition variant keeps it).
    it.fails("lifecycle: NoncurrentVersionExpiration.NewerNoncurrentVersions survives the round trip", async () => {
      const b = uniqueBucketName("lc");
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      await s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: b,
          LifecycleConfiguration: {
            Rules: [
              {
                ID: "nc",
                Status: "Enabled",
                Filter: { Prefix: "" },
                NoncurrentVersionExpiration: { NoncurrentDays: 30, NewerNoncurrentVersions: 2 },
              },
            ],
          },
        }),
      );
      const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }));
      expect(got.Rules?.[0]?.NoncurrentVersionExpiration).toEqual({
        NoncurrentDays: 30,
        NewerNoncurrentVersions: 2,
      });
    });

    it("Object Lock: bucket created with ObjectLockEnabledForBucket, default retention round trip", async () => {
      const b = uniqueBucketName("lock");
      await s3.send(new CreateBucketCommand({ Bucket: b, ObjectLockEnabledForBucket: true }));
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status).toBe("Enabled");
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: b,
          ObjectLockConfiguration: {
            ObjectLockEnabled: "Enabled",
            Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 7 } },
          },
        }),
      );
      const got = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: b }));
      expect(got.ObjectLockConfiguration?.ObjectLockEnabled).toBe("Enabled");
      // moto also returns `Years: 0` next to `Days` (AWS returns only the one that was set): harmless.
      expect(got.ObjectLockConfiguration?.Rule?.DefaultRetention).toMatchObject({
        Mode: "GOVERNANCE",
        Days: 7,
      });
    });

    it("default encryption round trip (SSE-S3 and SSE-KMS with bucket key)", async () => {
      const b = uniqueBucketName("enc");
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: b,
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: {
                  SSEAlgorithm: "aws:kms",
                  KMSMasterKeyID: "alias/kots-backup",
                },
                BucketKeyEnabled: true,
              },
            ],
          },
        }),
      );
      const got = await s3.send(new GetBucketEncryptionCommand({ Bucket: b }));
      expect(got.ServerSideEncryptionConfiguration?.Rules?.[0]).toMatchObject({
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: "alias/kots-backup" },
        BucketKeyEnabled: true,
      });
    });

    it("public access block round trip", async () => {
      const config = {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      };
      await s3.send(
        new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: config }),
      );
      const got = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
      expect(got.PublicAccessBlockConfiguration).toEqual(config);
    });
  });

  describe("checksums", () => {
    it("PutObject ChecksumAlgorithm SHA256 → HeadObject ChecksumMode ENABLED returns ChecksumSHA256", async () => {
      const body = randomBytes(4096);
      const put = await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: "ck/put", Body: body, ChecksumAlgorithm: "SHA256" }),
      );
      expect(put.ChecksumSHA256).toBe(sha256b64(body));
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "ck/put", ChecksumMode: "ENABLED" }),
      );
      expect(head.ChecksumSHA256).toBe(sha256b64(body));
    });

    it("PutObject with ChecksumAlgorithm SHA256 and an explicit ChecksumSHA256 stores that checksum", async () => {
      const body = randomBytes(4096);
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "ck/explicit",
          Body: body,
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: sha256b64(body),
        }),
      );
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "ck/explicit", ChecksumMode: "ENABLED" }),
      );
      expect(head.ChecksumSHA256).toBe(sha256b64(body));
      expect(head.ChecksumType ?? "FULL_OBJECT").toBe("FULL_OBJECT");
    });

    // moto gap (5.2.5): the x-amz-checksum-sha256 header is only read when x-amz-sdk-checksum-algorithm
    // is sent too (i.e. ChecksumAlgorithm is set); AWS stores an explicit checksum header on its own.
    // S3Store always sends both.
    it.fails("PutObject with only an explicit ChecksumSHA256 (no ChecksumAlgorithm) stores it", async () => {
      const body = randomBytes(4096);
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "ck/explicit-only",
          Body: body,
          ChecksumSHA256: sha256b64(body),
        }),
      );
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "ck/explicit-only", ChecksumMode: "ENABLED" }),
      );
      expect(head.ChecksumSHA256).toBe(sha256b64(body));
    });

    it("GetObjectAttributes returns ChecksumSHA256", async () => {
      const body = randomBytes(2048);
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: "ck/attrs", Body: body, ChecksumAlgorithm: "SHA256" }),
      );
      const attrs = await s3.send(
        new GetObjectAttributesCommand({ Bucket: bucket, Key: "ck/attrs", ObjectAttributes: ["Checksum"] }),
      );
      expect(attrs.Checksum?.ChecksumSHA256).toBe(sha256b64(body));
    });

    // moto gap (5.2.5): x-amz-object-attributes is split on "," without trimming, and the SDK joins the
    // list with ", ", so only the first requested attribute comes back. S3Store uses HeadObject instead.
    it.fails("GetObjectAttributes returns several attributes requested in one call", async () => {
      const body = randomBytes(2048);
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: "ck/attrs2", Body: body, ChecksumAlgorithm: "SHA256" }),
      );
      const attrs = await s3.send(
        new GetObjectAttributesCommand({
          Bucket: bucket,
          Key: "ck/attrs2",
          ObjectAttributes: ["Checksum", "ObjectSize", "ETag"],
        }),
      );
      expect(attrs.Checksum?.ChecksumSHA256).toBe(sha256b64(body));
      expect(attrs.ObjectSize).toBe(2048);
      expect(attrs.ETag).toBeTruthy();
    });

    it("GetObject ChecksumMode ENABLED returns ChecksumSHA256", async () => {
      const body = randomBytes(1000);
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: "ck/get", Body: body, ChecksumAlgorithm: "SHA256" }),
      );
      const got = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: "ck/get", ChecksumMode: "ENABLED" }),
      );
      expect(got.ChecksumSHA256).toBe(sha256b64(body));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    });

    // moto gap (5.2.5): checksums sent by the client are stored as given and never verified against the
    // body, so a wrong ChecksumSHA256 is accepted (AWS answers 400 BadDigest). S3Store hashes every body
    // itself and refuses a mismatch before completing the upload, so it does not depend on this.
    it.fails("PutObject with a wrong explicit ChecksumSHA256 is rejected (400 BadDigest)", async () => {
      const status = await statusOf(
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: "ck/wrong",
            Body: "actual body",
            ChecksumAlgorithm: "SHA256",
            ChecksumSHA256: sha256b64(Buffer.from("something else")),
          }),
        ),
      );
      expect(status).toBe(400);
    });

    async function multipartWithSha256(key: string): Promise<string> {
      const parts = [randomBytes(5 * MiB), randomBytes(1 * MiB)];
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: "SHA256" }),
      );
      const done = [];
      for (const [i, data] of parts.entries()) {
        const r = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: i + 1,
            Body: data,
            ChecksumAlgorithm: "SHA256",
          }),
        );
        expect(r.ChecksumSHA256).toBe(sha256b64(data));
        done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 });
      }
      const completed = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      );
      expect(completed.ETag).toMatch(/-2"$/);
      // Composite: base64(sha256(concat(part digests)))-<part count>.
      const composite = createHash("sha256")
        .update(Buffer.concat(parts.map((p) => createHash("sha256").update(p).digest())))
        .digest("base64");
      return `${composite}-2`;
    }

    it("multipart with ChecksumAlgorithm SHA256: per-part checksums, GetObject returns the composite", async () => {
      const expected = await multipartWithSha256("ck/mpu");
      const got = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: "ck/mpu", ChecksumMode: "ENABLED" }),
      );
      await got.Body?.transformToByteArray();
      expect(got.ChecksumSHA256).toBe(expected);
      expect(got.ChecksumType).toBe("COMPOSITE");
      expect(got.ContentLength).toBe(6 * MiB);
    });

    // moto gap (5.2.5): HeadObject returns a multipart object's composite checksum without its "-<parts>"
    // suffix and without x-amz-checksum-type (GetObject has both), so it looks like a full-object SHA-256.
    // S3Store therefore treats a checksum as full-object only when ChecksumType says FULL_OBJECT, or when
    // neither the checksum nor the ETag carries a "-<parts>" suffix.
    it.fails("multipart with ChecksumAlgorithm SHA256: HeadObject returns the composite with its type", async () => {
      const expected = await multipartWithSha256("ck/mpu-head");
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "ck/mpu-head", ChecksumMode: "ENABLED" }),
      );
      expect(head.ChecksumSHA256).toBe(expected);
      expect(head.ChecksumType).toBe("COMPOSITE");
    });

    it("multipart with a full-object CRC64NVME checksum (ChecksumType FULL_OBJECT)", async () => {
      // Known moto gap (toolchain.md §11, getmoto/moto PR #8875): full-object checksums on multipart.
      const key = "ck/mpu-full";
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ChecksumAlgorithm: "CRC64NVME",
          ChecksumType: "FULL_OBJECT",
        }),
      );
      const data = randomBytes(MiB);
      const part = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: data }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: {
            Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC64NVME: part.ChecksumCRC64NVME }],
          },
        }),
      );
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
      );
      expect(head.ChecksumType).toBe("FULL_OBJECT");
      expect(head.ChecksumCRC64NVME).toBeTruthy();
    });
  });

  describe("copy", () => {
    it("CopyObject copies body, keeps metadata, computes a SHA256 checksum on request", async () => {
      const body = randomBytes(10_000);
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: "cp/src", Body: body, Metadata: { sha256: "abc" } }),
      );
      const dest = uniqueBucketName("dst");
      await s3.send(new CreateBucketCommand({ Bucket: dest }));
      const copy = await s3.send(
        new CopyObjectCommand({
          Bucket: dest,
          Key: "cp/dst",
          CopySource: `${bucket}/cp/src`,
          ChecksumAlgorithm: "SHA256",
        }),
      );
      expect(copy.CopyObjectResult?.ChecksumSHA256).toBe(sha256b64(body));
      const got = await s3.send(
        new GetObjectCommand({ Bucket: dest, Key: "cp/dst", ChecksumMode: "ENABLED" }),
      );
      expect(got.Metadata).toEqual({ sha256: "abc" });
      expect(got.ChecksumSHA256).toBe(sha256b64(body));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    });

    it("UploadPartCopy with byte ranges assembles the source", async () => {
      const body = randomBytes(6 * MiB + 123);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cp/big", Body: body }));
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "cp/big-copy", ChecksumAlgorithm: "SHA256" }),
      );
      const ranges: Array<[number, number]> = [
        [0, 5 * MiB - 1],
        [5 * MiB, body.length - 1],
      ];
      const parts = [];
      for (const [i, [start, end]] of ranges.entries()) {
        const r = await s3.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: "cp/big-copy",
            UploadId,
            PartNumber: i + 1,
            CopySource: `${bucket}/cp/big`,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({
          PartNumber: i + 1,
          ETag: r.CopyPartResult?.ETag,
          ChecksumSHA256: r.CopyPartResult?.ChecksumSHA256,
        });
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: "cp/big-copy",
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "cp/big-copy" }));
      const copied = Buffer.from(await got.Body!.transformToByteArray());
      expect(copied.length).toBe(body.length);
      expect(copied.equals(body)).toBe(true);
    });

    // moto gap (5.2.5): UploadPartCopy into an upload created with ChecksumAlgorithm SHA256 returns no
    // CopyPartResult.ChecksumSHA256 (moto only echoes x-amz-sdk-checksum-algorithm, which the SDK does not
    // send on UploadPartCopy). The completed object still gets its composite checksum.
    it.fails("UploadPartCopy returns a per-part ChecksumSHA256 when the upload asked for SHA256", async () => {
      const body = randomBytes(5 * MiB + 10);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cp/ck-src", Body: body }));
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "cp/ck-dst", ChecksumAlgorithm: "SHA256" }),
      );
      const r = await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: "cp/ck-dst",
          UploadId,
          PartNumber: 1,
          CopySource: `${bucket}/cp/ck-src`,
        }),
      );
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "cp/ck-dst", UploadId }));
      expect(r.CopyPartResult?.ChecksumSHA256).toBe(sha256b64(body));
    });
  });

  describe("access and housekeeping", () => {
    it("presigned GET URL serves the object over plain fetch", async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "pre/obj.txt", Body: "presigned body" }));
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "pre/obj.txt" }), {
        expiresIn: 300,
      });
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("presigned body");
    });

    it("object tagging: PutObject Tagging, PutObjectTagging replaces, GetObjectTagging reads", async () => {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "tag/obj",
          Body: "x",
          Tagging: "a=1&kots-backup%2Ftier=hot",
        }),
      );
      let tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "tag/obj" }));
      expect(tags.TagSet).toEqual(
        expect.arrayContaining([
          { Key: "a", Value: "1" },
          { Key: "kots-backup/tier", Value: "hot" },
        ]),
      );
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket: bucket,
          Key: "tag/obj",
          Tagging: { TagSet: [{ Key: "kots-backup/tier", Value: "cold" }] },
        }),
      );
      tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "tag/obj" }));
      expect(tags.TagSet).toEqual([{ Key: "kots-backup/tier", Value: "cold" }]);
    });

    // moto gap (5.2.5): ListMultipartUploads reports a fixed Initiated time (2010-11-10T20:48:33Z) for
    // every upload, so "abort uploads older than N" cannot be told from "abort all" on moto.
    it.fails("ListMultipartUploads reports when each upload was initiated", async () => {
      const before = Date.now() - 60_000;
      const key = "mpu-housekeeping/initiated";
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const list = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      expect(list.Uploads?.[0]?.Initiated?.getTime()).toBeGreaterThan(before);
    });

    it("ListMultipartUploads lists an open upload under a prefix; AbortMultipartUpload removes it", async () => {
      const key = "mpu-housekeeping/pending";
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      let list = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "mpu-housekeeping/" }),
      );
      expect(list.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, UploadId]]);
      expect(list.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      list = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "mpu-housekeeping/" }));
      expect(list.Uploads ?? []).toEqual([]);
    });
  });
});

// S3Store behaviour beyond the shared ObjectStore suite, against the moto peer: prefixes, the sha256
// rule, server-side copy, multipart housekeeping and error mapping.
import { createHash } from "node:crypto";
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { EnvironmentError, InputError } from "@kots-backup/core";
import { beforeAll, describe, expect, it } from "vitest";
import { NotFoundError, PreconditionFailedError } from "../../packages/adapters/src/store/errors.ts";
import { parseS3Url, S3Store } from "../../packages/adapters/src/store/s3.ts";
import { freePort } from "../support/moto.ts";
import {
  AWS_TEST_CREDENTIALS,
  describeWithMoto,
  motoClientConfig,
  motoS3,
  uniqueBucketName,
} from "../support/peers.ts";
import { generated, MiB } from "./streams.ts";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

async function bodyOf(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

describe("parseS3Url", () => {
  it("splits bucket and prefix", () => {
    expect(parseS3Url("s3://my-bucket")).toEqual({ bucket: "my-bucket", prefix: "" });
    expect(parseS3Url("s3://my-bucket/")).toEqual({ bucket: "my-bucket", prefix: "" });
    expect(parseS3Url("s3://my-bucket/exports/prod/")).toEqual({
      bucket: "my-bucket",
      prefix: "exports/prod/",
    });
  });

  it("refuses other schemes with an InputError", () => {
    expect(() => parseS3Url("https://my-bucket.s3.amazonaws.com/x")).toThrow(InputError);
    expect(() => parseS3Url("s3:/my-bucket")).toThrow(InputError);
  });

  it("fromUrl builds the location without credentials", () => {
    const store = S3Store.fromUrl("s3://my-bucket/exports/prod", {
      region: "us-east-1",
      credentials: AWS_TEST_CREDENTIALS,
    });
    expect(store.location).toBe("s3://my-bucket/exports/prod");
    expect(store.prefix).toBe("exports/prod/");
    expect(store.fullKey("state/x.json")).toBe("exports/prod/state/x.json");
    expect(JSON.stringify(store.location)).not.toContain(AWS_TEST_CREDENTIALS.secretAccessKey);
  });

  it("refuses an invalid bucket name", () => {
    expect(() => S3Store.fromUrl("s3://Not_A_Bucket/x")).toThrow(InputError);
  });
});

describeWithMoto("S3Store on moto", () => {
  let s3: S3Client;
  let bucket: string;
  let store: S3Store;

  beforeAll(async () => {
    s3 = motoS3();
    bucket = uniqueBucketName("s3store");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    store = new S3Store({ bucket, prefix: "p/q", client: s3 });
  });

  describe("prefix", () => {
    it("stores under the prefix and lists keys relative to it; other prefixes are invisible", async () => {
      await store.put("a.txt", "a");
      const other = new S3Store({ bucket, prefix: "p/other", client: s3 });
      await other.put("b.txt", "b");
      expect((await bodyOf(s3, bucket, "p/q/a.txt")).toString()).toBe("a");
      const keys: string[] = [];
      for await (const o of store.list("")) keys.push(o.key);
      expect(keys).toContain("a.txt");
      expect(keys).not.toContain("b.txt");
      expect(await store.head("b.txt")).toBeUndefined();
    });
  });

  describe("sha256 rule", () => {
    it("buffer put: head reads the full-object ChecksumSHA256, and metadata carries the same hex", async () => {
      await store.put("sha/buffer", "buffer body");
      const raw = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "p/q/sha/buffer", ChecksumMode: "ENABLED" }),
      );
      expect(Buffer.from(raw.ChecksumSHA256!, "base64").toString("hex")).toBe(sha256("buffer body"));
      expect(raw.Metadata?.sha256).toBe(sha256("buffer body"));
      expect((await store.head("sha/buffer"))?.sha256).toBe(sha256("buffer body"));
    });

    it("a stream that fits one part goes out as one PutObject with a full-object checksum", async () => {
      const source = generated(3 * MiB, "one-part");
      const put = await store.put("sha/one-part", source.stream);
      expect(put.etag).not.toMatch(/-\d+"$/);
      expect((await store.head("sha/one-part"))?.sha256).toBe(source.sha256());
    });

    it("a multipart stream without a caller sha256: put returns it, head reports none (no full-object SHA-256)", async () => {
      const source = generated(20 * MiB, "multipart");
      const put = await store.put("sha/multipart", source.stream);
      expect(put.etag).toMatch(/-3"$/);
      expect(put.sha256).toBe(source.sha256());
      expect((await store.head("sha/multipart"))?.sha256).toBeUndefined();
    });

    it("a multipart stream is uploaded with a FULL_OBJECT CRC-32: S3 states the CRC-32 put computed while streaming", async () => {
      const source = generated(21 * MiB, "full-object-crc");
      const put = await store.put("sha/crc", source.stream);
      expect(put.crc32).toBe(source.crc32Base64());
      const raw = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "p/q/sha/crc", ChecksumMode: "ENABLED" }),
      );
      expect(raw.ChecksumType).toBe("FULL_OBJECT");
      expect(raw.ChecksumCRC32).toBe(source.crc32Base64());
    });

    it("a stream that fits one part is written like a buffer: SHA-256 in the checksum and the metadata, no CRC-32 returned", async () => {
      const source = generated(8 * MiB, "exactly-one-part");
      const put = await store.put("sha/exact", source.stream);
      expect(put.crc32).toBeUndefined();
      const raw = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "p/q/sha/exact", ChecksumMode: "ENABLED" }),
      );
      expect(raw.Metadata?.sha256).toBe(source.sha256());
      expect(Buffer.from(raw.ChecksumSHA256!, "base64").toString("hex")).toBe(source.sha256());
    });

    it("an object written by another tool with only x-amz-meta-sha256: head reports the metadata", async () => {
      const hex = sha256("foreign");
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "p/q/sha/foreign",
          Body: "foreign",
          Metadata: { sha256: hex },
        }),
      );
      expect((await store.head("sha/foreign"))?.sha256).toBe(hex);
    });

    it("malformed sha256 metadata is ignored", async () => {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "p/q/sha/bad-meta",
          Body: "x",
          Metadata: { sha256: "xyz" },
        }),
      );
      expect((await store.head("sha/bad-meta"))?.sha256).toBeUndefined();
    });
  });

  describe("multipart streams", () => {
    it("a wrong caller sha256 aborts the multipart upload: no object, no upload left", async () => {
      await expect(
        store.put("mpu/wrong", generated(20 * MiB, "x").stream, { sha256: sha256("other") }),
      ).rejects.toMatchObject({ code: "checksum-mismatch" });
      expect(await store.head("mpu/wrong")).toBeUndefined();
      expect(await store.listMultipartUploads("mpu/")).toEqual([]);
    });

    it("create-only multipart put onto an existing key: PreconditionFailedError, upload aborted", async () => {
      await store.put("mpu/exists", "already here");
      await expect(
        store.put("mpu/exists", generated(20 * MiB, "y").stream, { ifNoneMatch: true }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      expect((await bodyOf(s3, bucket, "p/q/mpu/exists")).toString()).toBe("already here");
      expect(await store.listMultipartUploads("mpu/")).toEqual([]);
    });

    it("a source stream that fails mid-way aborts the upload and surfaces the error", async () => {
      const source = generated(20 * MiB, "z", async () => {
        source.stream.destroy(new Error("source went away"));
      });
      await expect(store.put("mpu/broken", source.stream)).rejects.toThrow("source went away");
      expect(await store.head("mpu/broken")).toBeUndefined();
      expect(await store.listMultipartUploads("mpu/")).toEqual([]);
    });
  });

  describe("copyFrom", () => {
    let source: S3Store;
    let dest: S3Store;
    beforeAll(async () => {
      const destBucket = uniqueBucketName("copydst");
      await s3.send(new CreateBucketCommand({ Bucket: destBucket }));
      source = new S3Store({ bucket, prefix: "src", client: s3 });
      dest = new S3Store({ bucket: destBucket, prefix: "dst", client: s3 });
    });

    it("small object: one CopyObject, bytes, metadata and sha256 preserved", async () => {
      await source.put("velero/backups/b1/b1.tar.gz", "backup bytes", { contentType: "application/gzip" });
      const info = await dest.copyFrom(source, "velero/backups/b1/b1.tar.gz", "velero/backups/b1/b1.tar.gz");
      expect(info).toMatchObject({ size: 12, sha256: sha256("backup bytes") });
      expect((await bodyOf(s3, dest.bucket, "dst/velero/backups/b1/b1.tar.gz")).toString()).toBe(
        "backup bytes",
      );
      expect((await dest.head("velero/backups/b1/b1.tar.gz"))?.sha256).toBe(sha256("backup bytes"));
    });

    it("above the threshold: multipart UploadPartCopy, bytes intact, sha256 carried in metadata", async () => {
      const payload = generated(12 * MiB + 5, "copy-big");
      const put = await source.put("big.bin", payload.stream, {
        sha256: await hashOf(12 * MiB + 5, "copy-big"),
      });
      const info = await dest.copyFrom(source, "big.bin", "big-copy.bin", {
        multipartThreshold: 5 * MiB,
        partSize: 5 * MiB,
      });
      expect(info).toMatchObject({ size: 12 * MiB + 5, sha256: put.sha256 });
      expect(info.etag).toMatch(/-3"$/);
      const copied = createHash("sha256");
      for await (const chunk of await dest.get("big-copy.bin")) copied.update(chunk as Buffer);
      expect(copied.digest("hex")).toBe(put.sha256);
      expect((await dest.head("big-copy.bin"))?.sha256).toBe(put.sha256);
    });

    it("a failed multipart copy is aborted (create-only onto an existing key)", async () => {
      await source.put("mid.bin", generated(6 * MiB, "mid").stream);
      await dest.put("taken.bin", "taken");
      await expect(
        dest.copyFrom(source, "mid.bin", "taken.bin", { multipartThreshold: 5 * MiB, ifNoneMatch: true }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await dest.listMultipartUploads("")).toEqual([]);
      expect((await bodyOf(s3, dest.bucket, "dst/taken.bin")).toString()).toBe("taken");
    });

    it("a missing source throws NotFoundError naming the source", async () => {
      await expect(dest.copyFrom(source, "nope.bin", "nope.bin")).rejects.toBeInstanceOf(NotFoundError);
      await expect(dest.copyFrom(source, "nope.bin", "nope.bin")).rejects.toThrow(source.location);
    });
  });

  describe("multipart housekeeping", () => {
    it("listMultipartUploads lists open uploads relative to the prefix; abortStaleUploads aborts old ones", async () => {
      const housekeeping = new S3Store({ bucket, prefix: "hk", client: s3 });
      for (const key of ["hk/a/one", "hk/a/two", "hk/b/three"]) {
        await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      }
      const listed = await housekeeping.listMultipartUploads("a/");
      expect(listed.map((u) => u.key).sort()).toEqual(["a/one", "a/two"]);
      expect(listed.every((u) => u.initiated instanceof Date && u.uploadId.length > 0)).toBe(true);
      // "now" is taken relative to the listed Initiated time, since moto reports a fixed one (see the
      // conformance test "ListMultipartUploads reports when each upload was initiated").
      const initiated = listed[0]!.initiated!.getTime();
      const halfHourLater = new Date(initiated + 30 * 60 * 1000);
      expect(await housekeeping.abortStaleUploads("a/", 60 * 60 * 1000, halfHourLater)).toBe(0);
      expect(await housekeeping.listMultipartUploads("a/")).toHaveLength(2);
      expect(await housekeeping.abortStaleUploads("a/", 10 * 60 * 1000, halfHourLater)).toBe(2);
      expect(await housekeeping.listMultipartUploads("a/")).toEqual([]);
      expect((await housekeeping.listMultipartUploads("")).map((u) => u.key)).toEqual(["b/three"]);
    });
  });

  describe("errors", () => {
    function expectNoSecrets(error: unknown) {
      const text = `${String(error)} ${JSON.stringify(error)} ${(error as EnvironmentError).explanation}`;
      expect(text).not.toContain(AWS_TEST_CREDENTIALS.secretAccessKey);
      expect(text).not.toContain(AWS_TEST_CREDENTIALS.accessKeyId);
    }

    it("a missing bucket is an EnvironmentError naming the bucket, with a fix (head, get, put, list)", async () => {
      const missing = new S3Store({ bucket: uniqueBucketName("missing"), client: s3 });
      const attempts: Array<() => Promise<unknown>> = [
        () => missing.head("k"),
        () => missing.get("k"),
        () => missing.put("k", "x"),
        async () => {
          for await (const _ of missing.list("")) void _;
        },
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(EnvironmentError);
        expect(error).toMatchObject({ code: "s3-bucket-missing", exitCode: 3 });
        expect((error as EnvironmentError).message).toContain(missing.bucket);
        expect((error as EnvironmentError).fix).toContain(`create the bucket ${missing.bucket}`);
        expectNoSecrets(error);
      }
    });

    it("an unreachable endpoint is an EnvironmentError s3-unreachable without credentials", async () => {
      const port = await freePort();
      const offline = new S3Store({
        bucket: "some-bucket",
        client: new S3Client({
          ...motoClientConfig(),
          endpoint: `http://127.0.0.1:${port}`,
          forcePathStyle: true,
          maxAttempts: 1,
        }),
      });
      const error = await offline.put("k", "x").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "s3-unreachable", exitCode: 3 });
      expect((error as EnvironmentError).message).toContain("s3://some-bucket/k");
      expectNoSecrets(error);
    });
  });
});

async function hashOf(size: number, seed: string): Promise<string> {
  const probe = generated(size, seed);
  for await (const _ of probe.stream) void _;
  return probe.sha256();
}

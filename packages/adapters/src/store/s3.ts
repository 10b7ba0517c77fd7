// An ObjectStore on an S3 bucket and prefix (AWS, or an S3-compatible server such as moto or MinIO).
//
// Writes
//   - Buffer/string bodies: one PutObject with ChecksumAlgorithm SHA256 + ChecksumSHA256 (S3 verifies
//     the bytes against it) and metadata `x-amz-meta-sha256` (hex).
//   - Readable bodies that end within one part (8 MiB): read into memory, then written as a buffer.
//   - Longer Readable bodies: a multipart upload (s3-upload.ts: 8 MiB parts, 3 in flight, from a
//     pool of part buffers shared by the store's uploads: memory stays flat whatever the object
//     sizes), ChecksumType FULL_OBJECT CRC32: S3 verifies every part's CRC-32 and states the whole
//     object's, which `put` also returns (`crc32`), so the object can be verified without reading
//     it back. The store hashes the stream (SHA-256) as it goes; a caller-supplied `sha256` is
//     written to `x-amz-meta-sha256` up front and checked at end of input, before
//     CompleteMultipartUpload, so a mismatch aborts the upload and nothing is stored.
//   - `ifNoneMatch` → `If-None-Match: *`, `ifMatch` → `If-Match` (on PutObject, or on
//     CompleteMultipartUpload for multipart streams); 412/409 → PreconditionFailedError.
//
// The sha256 rule (what `head` reports), in order:
//   1. `ChecksumSHA256` (asked for with ChecksumMode ENABLED) when it is a full-object checksum:
//      ChecksumType FULL_OBJECT, or, when S3 does not say, neither the checksum nor the ETag carries
//      a "-<parts>" multipart suffix. S3 verified this value against the bytes itself.
//   2. else metadata `x-amz-meta-sha256`, which this store writes only when it knew the hash before
//      the upload started (buffers, or a caller-supplied `sha256` verified at end of stream).
//   3. else undefined: a multipart stream uploaded without a known hash carries only S3's composite
//      (hash-of-part-hashes) checksum, which is not the object's SHA-256. `put` still returns the
//      SHA-256 it computed while streaming, for the caller to record (e.g. in an export manifest).
//
// Errors never include credentials or raw service messages: S3 failures become EnvironmentError
// naming the operation, bucket and key, the S3 error code and HTTP status, and a fix.

import { pipeline, type Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  type ChecksumType,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import {
  EnvironmentError,
  InputError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type ServerSideCopyOptions,
  type StatedChecksums,
  type WrittenObject,
} from "@kots-backup/core";
import { NETWORK_FAILURE_CODES } from "../retry.ts";
import { ChecksumMismatchError, NotFoundError, PreconditionFailedError } from "./errors.ts";
import { Sha256Meter, sha256Hex } from "./hashing.ts";
import { checkKey, checkPrefix, isSha256Hex } from "./keys.ts";
import {
  MAX_PARTS,
  PartBuffers,
  PartReader,
  type UploadedObject,
  uploadMultipart,
  type WriteParams,
} from "./s3-upload.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Largest object CopyObject copies in one request. */
export const MAX_COPY_OBJECT_SIZE = 5 * GiB;
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * GiB;
/** The metadata key (`x-amz-meta-sha256`) holding the hex SHA-256 of the whole object. */
export const SHA256_METADATA_KEY = "sha256";

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket; a trailing `/` is added when missing. Default: the bucket root. */
  prefix?: string;
  client: S3Client;
  /** Part size of streamed uploads (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded in parallel for streamed uploads (default 3: with the part being filled, 32 MiB of buffers). */
  queueSize?: number;
}

export interface MultipartUploadInfo {
  /** Key relative to the store's prefix. */
  key: string;
  uploadId: string;
  initiated?: Date;
}

export class S3Store implements ObjectStore {
  readonly location: string;
  readonly bucket: string;
  /** "" or a prefix ending in "/". */
  readonly prefix: string;
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  /** Part buffers for streamed uploads: memory bounded by (queueSize + 1) × partSize per store. */
  private readonly partBuffers: PartBuffers;
  private bucketChecked = false;

  constructor(options: S3StoreOptions) {
    if (!options.bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new InputError("invalid-s3-bucket", `invalid S3 bucket name ${JSON.stringify(options.bucket)}`, {
        fix: "use the bucket's name: 3-63 lower-case letters, digits, dots and hyphens",
      });
    }
    const prefix = (options.prefix ?? "").replace(/^\/+/, "");
    if (prefix !== "") checkKey(prefix.replace(/\/+$/, ""), `s3://${options.bucket}`);
    this.bucket = options.bucket;
    this.prefix = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
    this.client = options.client;
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? 8 * MiB);
    this.queueSize = Math.max(1, options.queueSize ?? 3);
    this.partBuffers = new PartBuffers(this.partSize, this.queueSize + 1);
    this.location = `s3://${this.bucket}${this.prefix === "" ? "" : `/${this.prefix.slice(0, -1)}`}`;
  }

  /** A store for `s3://bucket[/prefix]`, with a new S3Client built from `clientConfig`. */
  static fromUrl(
    url: string,
    clientConfig: S3ClientConfig = {},
    options: Partial<S3StoreOptions> = {},
  ): S3Store {
    const { bucket, prefix } = parseS3Url(url);
    return new S3Store({ ...options, bucket, prefix, client: options.client ?? new S3Client(clientConfig) });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key, this.location);
    let out: HeadObjectCommandOutput;
    try {
      out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), ChecksumMode: "ENABLED" }),
      );
    } catch (error) {
      if (httpStatus(error) === 404) {
        await this.ensureBucket();
        return undefined;
      }
      throw this.s3Error("read", error, key);
    }
    const info: ObjectInfo = { key, size: out.ContentLength ?? 0, etag: out.ETag ?? "" };
    if (out.LastModified) info.lastModified = out.LastModified;
    const sha256 = sha256FromHead(out);
    if (sha256) info.sha256 = sha256;
    return info;
  }

  async get(key: string): Promise<Readable> {
    checkKey(key, this.location);
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }),
      );
      return out.Body as Readable;
    } catch (error) {
      if (errorName(error) === "NoSuchKey") throw new NotFoundError(this.location, key);
      throw this.s3Error("read", error, key);
    }
  }

  async put(key: string, body: Buffer | string | Readable, options: PutOptions = {}): Promise<WrittenObject> {
    checkKey(key, this.location);
    if (options.sha256 !== undefined && !isSha256Hex(options.sha256)) {
      throw new InputError("invalid-sha256", `sha256 for ${key} must be 64 lower-case hex characters`);
    }
    const common: WriteParams = {
      Bucket: this.bucket,
      Key: this.fullKey(key),
      ContentType: options.contentType,
      Tagging: options.tags && Object.keys(options.tags).length > 0 ? encodeTags(options.tags) : undefined,
      IfNoneMatch: options.ifNoneMatch ? "*" : undefined,
      IfMatch: options.ifMatch,
    };
    let sourceError: Error | undefined;
    try {
      if (typeof body === "string" || Buffer.isBuffer(body)) {
        const bytes = typeof body === "string" ? Buffer.from(body) : body;
        const sha256 = sha256Hex(bytes);
        if (options.sha256 !== undefined && options.sha256 !== sha256) {
          throw new ChecksumMismatchError(this.location, key, options.sha256, sha256);
        }
        return await this.putOnce(key, bytes, sha256, common);
      }
      const meter = new Sha256Meter(this.location, key, options.sha256);
      const counted = pipeline(body, meter, (error) => {
        // The upload sees the error through `meter`; remember it to report the source's own error
        // rather than dress it up as an S3 failure.
        if (error) sourceError ??= error;
      });
      const reader = new PartReader(counted[Symbol.asyncIterator]());
      if (await reader.readAhead(this.partSize)) {
        // The whole input fits one part (the meter has checked it by now): written as a buffer.
        return await this.putOnce(key, reader.takeQueued(), meter.sha256 ?? "", common);
      }
      let uploaded: UploadedObject;
      try {
        uploaded = await uploadMultipart(
          {
            ...common,
            client: this.client,
            Metadata: options.sha256 ? { [SHA256_METADATA_KEY]: options.sha256 } : undefined,
            buffers: this.partBuffers,
            queueSize: this.queueSize,
          },
          reader,
        );
      } catch (error) {
        meter.destroy();
        throw error;
      }
      return {
        key,
        size: uploaded.size,
        etag: uploaded.etag,
        sha256: meter.sha256 ?? "",
        crc32: uploaded.crc32,
      };
    } catch (error) {
      if (error instanceof ChecksumMismatchError) throw error;
      if (sourceError && !(error instanceof S3ServiceException)) throw sourceError;
      if (isPreconditionFailure(error) || (options.ifMatch !== undefined && httpStatus(error) === 404)) {
        if (errorName(error) !== "NoSuchBucket") throw new PreconditionFailedError(this.location, key);
      }
      throw this.s3Error("write", error, key);
    }
  }

  /** One PutObject whose SHA-256 S3 verifies (ChecksumSHA256) and the metadata records. */
  private async putOnce(
    key: string,
    bytes: Buffer,
    sha256: string,
    params: WriteParams,
  ): Promise<WrittenObject> {
    const out = await this.client.send(
      new PutObjectCommand({
        ...params,
        Body: bytes,
        ChecksumAlgorithm: "SHA256",
        ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64"),
        Metadata: { [SHA256_METADATA_KEY]: sha256 },
      }),
    );
    return { key, size: bytes.length, etag: out.ETag ?? "", sha256 };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.location);
    try {
      const pages = paginateListObjectsV2(
        { client: this.client },
        { Bucket: this.bucket, Prefix: this.prefix + prefix },
      );
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          const info: ObjectInfo = {
            key: object.Key.slice(this.prefix.length),
            size: object.Size ?? 0,
            etag: object.ETag ?? "",
          };
          if (object.LastModified) info.lastModified = object.LastModified;
          yield info;
        }
      }
    } catch (error) {
      throw this.s3Error("list", error, prefix || "/");
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key, this.location);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (error) {
      throw this.s3Error("delete", error, key);
    }
  }

  async setTags(key: string, tags: Record<string, string>): Promise<void> {
    checkKey(key, this.location);
    try {
      await this.client.send(
        new PutObjectTaggingCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
    } catch (error) {
      if (errorName(error) === "NoSuchKey") throw new NotFoundError(this.location, key);
      throw this.s3Error("tag", error, key);
    }
  }

  // --- optional capabilities of the ObjectStore port ------------------------------------------------

  /**
   * Another S3 store: CopyObject and UploadPartCopy name its bucket and key. Whether this store's
   * endpoint and credentials can read it is the configuration's to say (export.bsl), not the store's.
   */
  canCopyFrom(source: ObjectStore): source is S3Store {
    return source instanceof S3Store;
  }

  /**
   * Server-side copy of `source`'s `sourceKey` to this store's `destKey`; the bytes never pass through
   * this process. Sent with this store's client, whose credentials must be able to read the source.
   * ≤ 5 GiB: one CopyObject (metadata and tags copied, SHA256 checksum recomputed by S3 and compared
   * with the source's when both are full-object). Larger: multipart UploadPartCopy in parts of 256 MiB
   * (or more, to stay within 10,000 parts), each pinned to the source's ETag, with a SHA256 checksum;
   * the source's SHA-256 is carried in `x-amz-meta-sha256`. A failed multipart copy is aborted.
   */
  async copyFrom(
    source: ObjectStore,
    sourceKey: string,
    destKey: string,
    options: ServerSideCopyOptions = {},
  ): Promise<ObjectInfo> {
    if (!this.canCopyFrom(source)) {
      throw new InputError(
        "copy-unsupported",
        `${this.location} cannot copy server-side from ${source.location}: not an S3 store`,
        { fix: "stream the object (get, then put) instead" },
      );
    }
    checkKey(sourceKey, source.location);
    checkKey(destKey, this.location);
    let src: HeadObjectCommandOutput;
    try {
      src = await this.client.send(
        new HeadObjectCommand({
          Bucket: source.bucket,
          Key: source.fullKey(sourceKey),
          ChecksumMode: "ENABLED",
        }),
      );
    } catch (error) {
      if (httpStatus(error) === 404) throw new NotFoundError(source.location, sourceKey);
      throw this.s3Error("read", error, sourceKey, source);
    }
    const size = src.ContentLength ?? 0;
    const sourceSha256 = sha256FromHead(src);
    const copySource = `${source.bucket}/${encodeKey(source.fullKey(sourceKey))}`;
    const threshold = Math.min(options.multipartThreshold ?? MAX_COPY_OBJECT_SIZE, MAX_COPY_OBJECT_SIZE);
    try {
      if (size <= threshold) {
        const out = await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.fullKey(destKey),
            CopySource: copySource,
            CopySourceIfMatch: src.ETag,
            IfNoneMatch: options.ifNoneMatch ? "*" : undefined,
            MetadataDirective: "COPY",
            TaggingDirective: "COPY",
            ChecksumAlgorithm: "SHA256",
          }),
        );
        const copied = fullObjectSha256(
          out.CopyObjectResult?.ChecksumSHA256,
          undefined,
          out.CopyObjectResult?.ETag,
        );
        if (sourceSha256 && copied && copied !== sourceSha256) {
          await this.delete(destKey).catch(() => {});
          throw new ChecksumMismatchError(this.location, destKey, sourceSha256, copied);
        }
        const info: ObjectInfo = { key: destKey, size, etag: out.CopyObjectResult?.ETag ?? "" };
        const sha256 = copied ?? sourceSha256;
        if (sha256) info.sha256 = sha256;
        return info;
      }
      return await this.multipartCopy(src, copySource, destKey, sourceSha256, options);
    } catch (error) {
      if (error instanceof ChecksumMismatchError) throw error;
      if (isPreconditionFailure(error)) throw new PreconditionFailedError(this.location, destKey);
      throw this.s3Error("copy", error, destKey);
    }
  }

  /**
   * The checksums S3 computed itself over the whole object (HEAD with ChecksumMode ENABLED): a
   * full-object SHA-256 (hex) or CRC-32 (base64), if it states one; never `x-amz-meta-sha256`, which a
   * writer supplied. A composite (multipart, hash-of-parts) checksum is not the object's: only the size.
   */
  async statedChecksums(key: string): Promise<StatedChecksums | undefined> {
    checkKey(key, this.location);
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), ChecksumMode: "ENABLED" }),
      );
      const stated: StatedChecksums = { size: out.ContentLength ?? 0 };
      if (isComposite(out.ChecksumType, out.ETag)) return stated;
      const sha256 = fullObjectSha256(out.ChecksumSHA256, out.ChecksumType, out.ETag);
      if (sha256) stated.sha256 = sha256;
      if (out.ChecksumCRC32 && !out.ChecksumCRC32.includes("-")) stated.crc32 = out.ChecksumCRC32;
      return stated;
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw error;
    }
  }

  // --- extras, not on the ObjectStore port ---------------------------------------------------------

  /** Multipart uploads in progress under `prefix` (relative to the store's prefix). */
  async listMultipartUploads(prefix = ""): Promise<MultipartUploadInfo[]> {
    checkPrefix(prefix, this.location);
    const uploads: MultipartUploadInfo[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            KeyMarker,
            UploadIdMarker,
          }),
        );
        for (const u of page.Uploads ?? []) {
          if (u.Key === undefined || u.UploadId === undefined) continue;
          const info: MultipartUploadInfo = { key: u.Key.slice(this.prefix.length), uploadId: u.UploadId };
          if (u.Initiated) info.initiated = u.Initiated;
          uploads.push(info);
        }
        if (!page.IsTruncated) break;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
        if (KeyMarker === undefined && UploadIdMarker === undefined) break;
      }
    } catch (error) {
      throw this.s3Error("list uploads under", error, prefix || "/");
    }
    return uploads;
  }

  /**
   * Aborts multipart uploads under `prefix` started more than `olderThanMs` ago (default 24 h), i.e.
   * left by crashed writers; returns how many were aborted. Lifecycle's AbortIncompleteMultipartUpload
   * does the same on AWS, but only daily and only where the rule is configured.
   */
  async abortStaleUploads(
    prefix = "",
    olderThanMs = 24 * 60 * 60 * 1000,
    now: Date = new Date(),
  ): Promise<number> {
    const cutoff = now.getTime() - olderThanMs;
    let aborted = 0;
    for (const upload of await this.listMultipartUploads(prefix)) {
      if (upload.initiated && upload.initiated.getTime() > cutoff) continue;
      try {
        await this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.fullKey(upload.key),
            UploadId: upload.uploadId,
          }),
        );
        aborted += 1;
      } catch (error) {
        if (errorName(error) === "NoSuchUpload") continue; // finished or aborted meanwhile
        throw this.s3Error("abort an upload of", error, upload.key);
      }
    }
    return aborted;
  }

  /** The full S3 key of a store key. */
  fullKey(key: string): string {
    return this.prefix + key;
  }

  // --- internals ---------------------------------------------------------------------------------

  private async multipartCopy(
    src: HeadObjectCommandOutput,
    copySource: string,
    destKey: string,
    sourceSha256: string | undefined,
    options: ServerSideCopyOptions,
  ): Promise<ObjectInfo> {
    const size = src.ContentLength ?? 0;
    const partSize = copyPartSize(size, options.partSize);
    const Key = this.fullKey(destKey);
    const metadata = { ...src.Metadata };
    if (sourceSha256) metadata[SHA256_METADATA_KEY] = sourceSha256;
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key,
        ContentType: src.ContentType,
        Metadata: metadata,
        ChecksumAlgorithm: "SHA256",
      }),
    );
    try {
      const ranges: Array<{ part: number; start: number; end: number }> = [];
      for (let start = 0, part = 1; start < size; start += partSize, part++) {
        ranges.push({ part, start, end: Math.min(size, start + partSize) - 1 });
      }
      const parts: CompletedPart[] = new Array(ranges.length);
      let next = 0;
      const worker = async () => {
        while (next < ranges.length) {
          const range = ranges[next++]!;
          const out = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key,
              UploadId,
              PartNumber: range.part,
              CopySource: copySource,
              CopySourceIfMatch: src.ETag,
              CopySourceRange: `bytes=${range.start}-${range.end}`,
            }),
          );
          const part: CompletedPart = { PartNumber: range.part, ETag: out.CopyPartResult?.ETag };
          if (out.CopyPartResult?.ChecksumSHA256) part.ChecksumSHA256 = out.CopyPartResult.ChecksumSHA256;
          parts[range.part - 1] = part;
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.queueSize ?? 4, ranges.length) }, worker));
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId,
          IfNoneMatch: options.ifNoneMatch ? "*" : undefined,
          MultipartUpload: { Parts: parts },
        }),
      );
      const info: ObjectInfo = { key: destKey, size, etag: done.ETag ?? "" };
      if (sourceSha256) info.sha256 = sourceSha256;
      return info;
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }))
        .catch(() => {
          // leave it to abortStaleUploads / the lifecycle rule
        });
      throw error;
    }
  }

  /** A 404 on HeadObject does not say whether the key or the bucket is missing: ask once. */
  private async ensureBucket(): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketChecked = true;
    } catch (error) {
      throw this.s3Error("read", error, "", this, httpStatus(error) === 404 ? "NoSuchBucket" : undefined);
    }
  }

  private s3Error(action: string, error: unknown, key: string, store: S3Store = this, forcedName?: string) {
    return s3EnvironmentError(action, store.bucket, `${store.location}/${key}`, error, forcedName);
  }
}

/** Parses `s3://bucket[/prefix]`. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/?#]+)\/?([^?#]*)$/.exec(url.trim());
  if (!match) {
    throw new InputError("invalid-s3-url", `invalid S3 location ${JSON.stringify(url)}`, {
      fix: "write it as s3://bucket or s3://bucket/prefix",
    });
  }
  return { bucket: match[1]!, prefix: match[2]! };
}

/** The object's SHA-256 (hex) from a HeadObject answer, following the rule in the file comment. */
export function sha256FromHead(out: HeadObjectCommandOutput): string | undefined {
  const fromChecksum = fullObjectSha256(out.ChecksumSHA256, out.ChecksumType, out.ETag);
  if (fromChecksum) return fromChecksum;
  const fromMetadata = out.Metadata?.[SHA256_METADATA_KEY];
  return isSha256Hex(fromMetadata) ? fromMetadata : undefined;
}

function fullObjectSha256(
  checksum: string | undefined,
  type: ChecksumType | string | undefined,
  etag: string | undefined,
): string | undefined {
  if (!checksum || isComposite(type, etag)) return undefined;
  if (type !== "FULL_OBJECT" && checksum.includes("-")) return undefined;
  const bytes = Buffer.from(checksum, "base64");
  return bytes.length === 32 ? bytes.toString("hex") : undefined;
}

/** A composite (hash-of-parts) checksum: said so, or, when S3 does not say, a "-<parts>" ETag suffix. */
function isComposite(type: ChecksumType | string | undefined, etag: string | undefined): boolean {
  return type === "COMPOSITE" || (type !== "FULL_OBJECT" && /-\d+"?$/.test(etag ?? ""));
}

function copyPartSize(size: number, requested: number | undefined): number {
  const wanted = requested ?? 256 * MiB;
  const minimum = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, wanted, minimum));
}

function encodeTags(tags: Record<string, string>): string {
  return new URLSearchParams(Object.entries(tags)).toString();
}

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

function errorName(error: unknown): string | undefined {
  if (error instanceof S3ServiceException) return error.name;
  return (error as { name?: string } | undefined)?.name;
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isPreconditionFailure(error: unknown): boolean {
  const status = httpStatus(error);
  const name = errorName(error);
  return (
    status === 412 ||
    name === "PreconditionFailed" ||
    (status === 409 && name === "ConditionalRequestConflict")
  );
}

/**
 * An S3 failure as an EnvironmentError: operation, bucket, key, S3 error code and HTTP status, and a
 * fix. The service's own message and the SDK error (which can echo request details) are left out.
 */
export function s3EnvironmentError(
  action: string,
  bucket: string,
  what: string,
  error: unknown,
  forcedName?: string,
): EnvironmentError {
  if (error instanceof EnvironmentError) return error;
  const name = forcedName ?? errorName(error) ?? "Error";
  const status = httpStatus(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = status === undefined ? name : `${name}, HTTP ${status}`;
  if (name === "NoSuchBucket") {
    return new EnvironmentError(
      "s3-bucket-missing",
      `could not ${action} ${what}: bucket ${bucket} does not exist`,
      {
        fix: `create the bucket ${bucket}, or point the destination at an existing bucket`,
      },
    );
  }
  if (
    status === 403 ||
    ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"].includes(
      name,
    )
  ) {
    return new EnvironmentError(
      "s3-access-denied",
      `could not ${action} ${what}: S3 refused the request (${where})`,
      {
        fix: `check the credentials kots-backup runs with and that their policy allows s3:GetObject, s3:PutObject, s3:ListBucket, s3:DeleteObject and s3:PutObjectTagging on bucket ${bucket}`,
      },
    );
  }
  if ((code && NETWORK_FAILURE_CODES.has(code)) || name === "TimeoutError" || name === "AbortError") {
    return new EnvironmentError(
      "s3-unreachable",
      `could not ${action} ${what}: S3 endpoint unreachable (${code ?? name})`,
      {
        fix: "check the S3 endpoint, region and network access (proxy, VPC endpoint, DNS) from where kots-backup runs",
      },
    );
  }
  return new EnvironmentError("s3-error", `could not ${action} ${what}: ${where}`, {
    fix: `retry; if it persists, check bucket ${bucket} in the S3 console or CloudTrail`,
  });
}

// Streamed multipart upload for S3Store.put: parts of `partSize` bytes, `queueSize` in flight, from
// a pool of reusable part buffers. Each part carries the CRC-32 computed here over the exact bytes
// sent (S3 verifies it; the SDK then computes none), and the upload is a FULL_OBJECT CRC32 one: the
// whole object's CRC-32, combined from the parts' (one CRC pass over the bytes), is stated on
// CompleteMultipartUpload and returned, so the caller can compare it with the CRC-32 S3 states for
// the object it assembled.
//
// Why not lib-storage's Upload (used here before): it copies every part into a new Buffer (garbage in
// proportion to the bytes moved, which the collector reclaims late: peak RSS), and the SDK CRCs each
// part again after the caller's own pass. bench/results.md measures the difference.
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ProblemError } from "@kots-backup/core";
import { crc32Base64, crc32Combine } from "./hashing.ts";

/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;

/**
 * Part buffers shared by a store's uploads: at most `max` exist, so memory is bounded whatever the
 * object sizes and however many uploads run at once. An upload holds one buffer while filling it
 * and gives it back once that part is stored. When none is in use they are dropped (an idle daemon
 * keeps nothing).
 */
export class PartBuffers {
  readonly size: number;
  readonly #max: number;
  #created = 0;
  #free: Buffer[] = [];
  readonly #waiting: Array<(buffer: Buffer) => void> = [];

  constructor(size: number, max: number) {
    this.size = size;
    this.#max = max;
  }

  acquire(): Promise<Buffer> {
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#created < this.#max) {
      this.#created += 1;
      return Promise.resolve(Buffer.allocUnsafeSlow(this.size));
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(buffer: Buffer): void {
    const next = this.#waiting.shift();
    if (next) {
      next(buffer);
      return;
    }
    this.#free.push(buffer);
    if (this.#free.length === this.#created) {
      this.#free = [];
      this.#created = 0;
    }
  }
}

/** Reads an input's chunks ahead, or copies them into part buffers. */
export class PartReader {
  readonly #chunks: AsyncIterator<Buffer>;
  /** Chunks read ahead and not yet copied out, oldest first. */
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;

  constructor(chunks: AsyncIterator<Buffer>) {
    this.#chunks = chunks;
  }

  /** Reads ahead until more than `limit` bytes are queued or the input ended; true if it ended. */
  async readAhead(limit: number): Promise<boolean> {
    while (this.#queued <= limit && !this.#ended) {
      const next = await this.#chunks.next();
      if (next.done) this.#ended = true;
      else {
        this.#queue.push(next.value);
        this.#queued += next.value.length;
      }
    }
    return this.#ended;
  }

  /** Everything queued, as one buffer (the whole input, once `readAhead` said it ended). */
  takeQueued(): Buffer {
    const all = Buffer.concat(this.#queue.splice(0));
    this.#queued = 0;
    return all;
  }

  /** Fills `buffer` from the queue, then the input; returns the bytes filled (fewer: the input ended). */
  async fill(buffer: Buffer): Promise<number> {
    let length = 0;
    while (length < buffer.length) {
      let chunk = this.#queue.shift();
      if (chunk) this.#queued -= chunk.length;
      else {
        const next = this.#ended ? undefined : await this.#chunks.next();
        if (!next || next.done) {
          this.#ended = true;
          break;
        }
        chunk = next.value;
      }
      const copied = chunk.copy(buffer, length);
      length += copied;
      if (copied < chunk.length) {
        this.#queue.unshift(chunk.subarray(copied));
        this.#queued += chunk.length - copied;
      }
    }
    return length;
  }
}

/** What every write of one object states: where, content type, tags, preconditions. */
export interface WriteParams {
  Bucket: string;
  Key: string;
  ContentType: string | undefined;
  Tagging: string | undefined;
  IfNoneMatch: string | undefined;
  IfMatch: string | undefined;
}

export interface MultipartTarget extends WriteParams {
  client: S3Client;
  Metadata: Record<string, string> | undefined;
  buffers: PartBuffers;
  queueSize: number;
}

export interface UploadedObject {
  etag: string;
  size: number;
  /** The whole object's CRC-32, base64 (S3's notation). */
  crc32: string;
}

/**
 * Uploads `reader`'s input (what it read ahead first) as one multipart upload. Any failure (S3's, or
 * the input's, e.g. a checksum mismatch at its end) aborts the upload.
 */
export async function uploadMultipart(target: MultipartTarget, reader: PartReader): Promise<UploadedObject> {
  const { client, Bucket, Key, buffers } = target;
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: target.ContentType,
      Tagging: target.Tagging,
      Metadata: target.Metadata,
      ChecksumAlgorithm: "CRC32",
      ChecksumType: "FULL_OBJECT",
    }),
  );
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  let crc = 0;
  let size = 0;
  try {
    for (let partNumber = 1; ; partNumber++) {
      while (inFlight.size >= target.queueSize) await Promise.race(inFlight);
      if (failures.length > 0) throw failures[0];
      if (partNumber > MAX_PARTS) {
        throw new ProblemError(
          "object-too-large",
          `${Key}: more than ${MAX_PARTS} parts of ${buffers.size / 1024 / 1024} MiB, S3's limit for one upload`,
          { fix: "raise the store's partSize for objects this large" },
        );
      }
      const buffer = await buffers.acquire();
      let length: number;
      try {
        length = await reader.fill(buffer);
      } catch (error) {
        buffers.release(buffer);
        throw error;
      }
      if (length === 0) {
        buffers.release(buffer);
        break;
      }
      const body = buffer.subarray(0, length);
      const partCrc = crc32(body);
      crc = crc32Combine(crc, partCrc, length);
      size += length;
      const checksum = crc32Base64(partCrc);
      const sent = client
        .send(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId,
            PartNumber: partNumber,
            Body: body,
            ChecksumCRC32: checksum,
          }),
        )
        .then((out) => {
          parts.push({ PartNumber: partNumber, ETag: out.ETag, ChecksumCRC32: checksum });
        })
        .catch((error: unknown) => {
          failures.push(error);
        })
        .finally(() => {
          buffers.release(buffer);
          inFlight.delete(sent);
        });
      inFlight.add(sent);
      if (length < buffer.length) break; // the input ended
    }
    await Promise.all(inFlight);
    if (failures.length > 0) throw failures[0];
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const whole = crc32Base64(crc);
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        ChecksumType: "FULL_OBJECT",
        ChecksumCRC32: whole,
        IfNoneMatch: target.IfNoneMatch,
        IfMatch: target.IfMatch,
        MultipartUpload: { Parts: parts },
      }),
    );
    return { etag: done.ETag ?? "", size, crc32: whole };
  } catch (error) {
    await Promise.allSettled(inFlight);
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {
      // left to abortStaleUploads / the lifecycle rule's AbortIncompleteMultipartUpload
    });
    throw error;
  }
}

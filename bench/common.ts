// Shared pieces of the benchmarks: S3 clients on the MinIO peer (with a byte counter on their sockets),
// deterministic pseudo-random object bodies streamed in (never held in memory), and small helpers.
import { createCipheriv, createHash } from "node:crypto";
import { Agent } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { MINIO_CREDENTIALS } from "./minio.ts";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Bytes this process sent and received on the sockets of the clients built with `counter`. */
export class ByteCounter {
  readonly #sockets = new Set<Socket>();
  #closedRead = 0;
  #closedWritten = 0;

  track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => {
      this.#closedRead += socket.bytesRead;
      this.#closedWritten += socket.bytesWritten;
      this.#sockets.delete(socket);
    });
  }

  get read(): number {
    let n = this.#closedRead;
    for (const s of this.#sockets) n += s.bytesRead;
    return n;
  }

  get written(): number {
    let n = this.#closedWritten;
    for (const s of this.#sockets) n += s.bytesWritten;
    return n;
  }
}

/** An http.Agent whose sockets are counted. */
class CountingAgent extends Agent {
  readonly counter: ByteCounter;
  constructor(counter: ByteCounter) {
    super({ keepAlive: true, maxSockets: 64 });
    this.counter = counter;
  }
  override createConnection(
    ...args: Parameters<Agent["createConnection"]>
  ): ReturnType<Agent["createConnection"]> {
    const socket = super.createConnection(...args);
    if (socket) this.counter.track(socket as Socket);
    return socket;
  }
}

/**
 * A client on the MinIO peer. `checksums: false` turns the SDK's default request and response checksums
 * (CRC32 on uploads, validation on downloads) off, as for the ceiling; kots-backup's stores use the defaults.
 */
export function benchS3(
  endpoint: string,
  counter?: ByteCounter,
  options: { checksums?: boolean } = {},
): S3Client {
  return new S3Client({
    endpoint,
    ...(options.checksums === false
      ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
    region: "us-east-1",
    forcePathStyle: true,
    credentials: MINIO_CREDENTIALS,
    requestHandler: new NodeHttpHandler({
      httpAgent: counter ? new CountingAgent(counter) : new Agent({ keepAlive: true, maxSockets: 64 }),
    }),
  });
}

/** `size` deterministic pseudo-random bytes (AES-128-CTR keystream of `seed`), streamed in 1 MiB chunks. */
export function pseudoRandom(size: number, seed: string): Readable {
  const key = createHash("sha256").update(`key:${seed}`).digest().subarray(0, 16);
  const iv = createHash("sha256").update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, iv);
  const zeros = Buffer.alloc(MiB);
  let left = size;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, MiB);
      left -= n;
      this.push(cipher.update(n === MiB ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** SHA-256 (hex) of `pseudoRandom(size, seed)`, computed by streaming it once. */
export async function pseudoRandomSha256(size: number, seed: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of pseudoRandom(size, seed)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Deletes every object under `prefix` in `bucket`. */
export async function emptyPrefix(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let removed = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      removed += keys.length;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return removed;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `work` on every item, `concurrency` at a time. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

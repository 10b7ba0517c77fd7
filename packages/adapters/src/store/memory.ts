// A complete in-memory ObjectStore: the fake for unit tests and the sandbox's default BSL.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { ObjectInfo, ObjectStore, PutOptions } from "@kots-backup/core";
import { ChecksumMismatchError, NotFoundError, PreconditionFailedError } from "./errors.ts";
import { checkKey, checkPrefix, compareKeys } from "./keys.ts";

interface StoredObject {
  body: Buffer;
  info: ObjectInfo;
  tags: Record<string, string>;
}

export class MemoryStore implements ObjectStore {
  readonly location: string;
  private readonly objects = new Map<string, StoredObject>();
  private version = 0;

  constructor(name = "memory") {
    this.location = `memory://${name}`;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key, this.location);
    const stored = this.objects.get(key);
    return stored ? { ...stored.info } : undefined;
  }

  async get(key: string): Promise<Readable> {
    checkKey(key, this.location);
    const stored = this.objects.get(key);
    if (!stored) throw new NotFoundError(this.location, key);
    return Readable.from([stored.body]);
  }

  async put(key: string, body: Buffer | string | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    checkKey(key, this.location);
    const bytes = await toBuffer(body);
    const existing = this.objects.get(key);
    if (options.ifNoneMatch && existing) throw new PreconditionFailedError(this.location, key);
    if (options.ifMatch !== undefined && existing?.info.etag !== options.ifMatch) {
      throw new PreconditionFailedError(this.location, key);
    }
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (options.sha256 !== undefined && options.sha256 !== sha256) {
      throw new ChecksumMismatchError(this.location, key, options.sha256, sha256);
    }
    this.version += 1;
    const info: ObjectInfo = {
      key,
      size: bytes.length,
      etag: `"${this.version}-${sha256.slice(0, 16)}"`,
      lastModified: new Date(),
      sha256,
    };
    this.objects.set(key, { body: bytes, info, tags: { ...options.tags } });
    return { ...info };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.location);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    for (const key of keys) {
      const stored = this.objects.get(key);
      if (stored) yield { ...stored.info };
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key, this.location);
    this.objects.delete(key);
  }

  async setTags(key: string, tags: Record<string, string>): Promise<void> {
    checkKey(key, this.location);
    const stored = this.objects.get(key);
    if (!stored) throw new NotFoundError(this.location, key);
    stored.tags = { ...tags };
  }

  /** Test helper: the tags last set on a key. */
  tagsOf(key: string): Record<string, string> | undefined {
    const stored = this.objects.get(key);
    return stored ? { ...stored.tags } : undefined;
  }
}

async function toBuffer(body: Buffer | string | Readable): Promise<Buffer> {
  if (typeof body === "string") return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

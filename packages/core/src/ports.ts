// Ports: the narrow interfaces the pure core and the services use, implemented by adapters
// (S3, local folder, memory) and faked by nothing else. Keys are relative to the store's prefix.
import type { Readable } from "node:stream";

export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version tag for conditional writes (S3 ETag, or the local folder's equivalent). */
  etag: string;
  lastModified?: Date;
  /** Hex SHA-256 of the whole object, when the store can state it (stored checksum or metadata). */
  sha256?: string;
}

export interface PutOptions {
  /** Create only: fail with PreconditionFailedError if the key exists (S3 `If-None-Match: *`). */
  ifNoneMatch?: boolean;
  /** Replace only this version: fail with PreconditionFailedError otherwise (S3 `If-Match`). */
  ifMatch?: string;
  contentType?: string;
  /** Hex SHA-256 of the body, when the caller knows it; the store verifies it. */
  sha256?: string;
  tags?: Record<string, string>;
}

export interface ObjectStore {
  /** Where this store points, without credentials: `s3://bucket/prefix` or `file:///abs/path`. */
  readonly location: string;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Streams the object; throws NotFoundError when missing. */
  get(key: string): Promise<Readable>;
  put(key: string, body: Buffer | string | Readable, options?: PutOptions): Promise<ObjectInfo>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
  setTags(key: string, tags: Record<string, string>): Promise<void>;
}

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

/** What `put` wrote. */
export interface WrittenObject extends ObjectInfo {
  /**
   * Base64 CRC-32 of the bytes written, when the store computed it to let the destination's own
   * full-object CRC-32 vouch for the object (S3 multipart uploads, which have no full-object SHA-256).
   */
  crc32?: string;
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
  put(key: string, body: Buffer | string | Readable, options?: PutOptions): Promise<WrittenObject>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
  setTags(key: string, tags: Record<string, string>): Promise<void>;

  // --- Optional capabilities. A store has one only when it does better than the general path;
  // callers ask for the member, never for the store's class.

  /**
   * Why this store cannot hold `key`, or undefined: the key rule every store applies, plus its own
   * limits (a local folder: 255-byte file names, 4095-byte paths). Without it, only the shared rule.
   */
  keyProblem?(key: string): string | undefined;
  /** Whether `copyFrom` can copy objects of `source` without their bytes passing through this process. */
  canCopyFrom?(source: ObjectStore): boolean;
  /**
   * Copies `source`'s `sourceKey` to this store's `destKey` server-side (only when `canCopyFrom(source)`);
   * the answer's `sha256` is the source's or the one the store computed while copying, when known.
   */
  copyFrom?(
    source: ObjectStore,
    sourceKey: string,
    destKey: string,
    options?: ServerSideCopyOptions,
  ): Promise<ObjectInfo>;
  /**
   * The checksums the store itself computed over the whole stored object (never metadata a writer
   * supplied), or undefined when the object is missing. Without it, an object is verified by reading it
   * back and hashing it.
   */
  statedChecksums?(key: string): Promise<StatedChecksums | undefined>;
}

/** What a store states about a whole object it holds (`statedChecksums`). */
export interface StatedChecksums {
  size: number;
  /** Hex SHA-256 of the whole object, when the store computed one. */
  sha256?: string;
  /** Base64 CRC-32 of the whole object, when the store computed one (S3 multipart uploads). */
  crc32?: string;
}

/** Tuning of a server-side copy (`copyFrom`). */
export interface ServerSideCopyOptions {
  /** Objects larger than this are copied in parts (S3: UploadPartCopy; default and maximum 5 GiB). */
  multipartThreshold?: number;
  /** Part size of a copy in parts (S3: default 256 MiB, raised to fit 10,000 parts). */
  partSize?: number;
  /** Parts copied in parallel (default 4). */
  queueSize?: number;
  /** Create only: fail with PreconditionFailedError when the destination exists. */
  ifNoneMatch?: boolean;
}

// --- The cluster port (issue #4): what the backup use cases need from Kubernetes + kotsadm. -------
// Implemented by adapters/src/kube/cluster.ts (the real thing, over client-node and a port-forward).

/** An app managed by kotsadm (`GET /api/v1/apps`). */
export interface ClusterApp {
  id: string;
  slug: string;
  name?: string;
}

/** A backup request as kotsadm's API takes it. */
export interface ClusterBackupRequest {
  type: "full" | "partial";
  /** App slug, for `partial`. */
  app?: string;
}

export interface FollowBackupOptions {
  timeoutMs: number;
  onUpdate?: (backup: import("./velero.ts").VeleroBackup) => void;
  signal?: AbortSignal;
}

export interface KotsCluster {
  /** `cluster.name`, for events and messages. */
  readonly name: string;
  /** The kotsadm namespace (config, else the context's, else `default`). */
  readonly kotsadmNamespace: string;
  listApps(): Promise<ClusterApp[]>;
  /** Every Velero Backup in Velero's namespace (paginated underneath). */
  listBackups(): Promise<import("./velero.ts").VeleroBackup[]>;
  getBackup(name: string): Promise<import("./velero.ts").VeleroBackup | undefined>;
  /**
   * Asks kotsadm for a backup, exactly once (never retried here). Resolves to the Backup's name when
   * kotsadm said it (full backups). Throws an error with `uncertain: true` when the outcome is unknown
   * (dropped connection, 5xx): the Backup may exist; the caller looks before asking again.
   */
  requestBackup(request: ClusterBackupRequest): Promise<{ name?: string }>;
  /** Follows a Backup until its phase is terminal; EnvironmentError `timeout` when `timeoutMs` passes. */
  followBackup(name: string, options: FollowBackupOptions): Promise<import("./velero.ts").VeleroBackup>;
  close(): Promise<void>;
}

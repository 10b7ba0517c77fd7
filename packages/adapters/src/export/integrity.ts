// What "verified" means for an exported object: the destination's OWN account of the object (a
// checksum the object store computed over the bytes it stored, or the bytes read back from it and
// hashed here) matches the source's content hash. Never an echo of what was sent (metadata this
// process wrote, or a hash computed on the way in).
//
// The rule per path (also in docs/export.md):
//   streamed (GET source → write destination; also DownloadRequest URLs and the KOTS config archive):
//     source hash  = SHA-256 computed while streaming the source; when the source states a SHA-256
//                    (S3 full-object checksum, the memory/local store's own) the stream must hash to
//                    it, else the write is refused before it commits (no object, no open upload).
//     destination  = the store's statedChecksums, when it has them. S3: HEAD with ChecksumMode=ENABLED
//                    gives a FULL_OBJECT ChecksumSHA256 that S3
//                    computed and validated on the bytes it received (single-part PutObject). A
//                    multipart upload has no full-object SHA-256; it is made with ChecksumType
//                    FULL_OBJECT CRC32, so S3 states a CRC-32 of the whole object, compared with the
//                    CRC-32 this process computed over the parts it sent (the bytes that hashed to
//                    the source hash; store/s3-upload.ts). When the destination states neither, the
//                    object is read back and hashed. Local folder and memory stores: always read
//                    back and hashed.
//   server-side single-part (CopyObject ≤ 5 GiB, same endpoint and account):
//     source hash  = the source's full-object SHA-256 checksum when S3 states one (Velero's AWS plugin
//                    with BSL config `checksumAlgorithm: SHA256`), else the source is read and hashed
//                    (a read only: the copy itself still never passes through this process).
//     destination  = the FULL_OBJECT ChecksumSHA256 S3 computed while copying (CopyObject with
//                    x-amz-checksum-algorithm SHA256), read back with HEAD; the copy is pinned to the
//                    source's ETag (x-amz-copy-source-if-match).
//   server-side multipart (UploadPartCopy, objects > 5 GiB):
//     source hash  = as for single-part.
//     destination  = read back from S3 and hashed: the multipart copy only carries a composite
//                    checksum. (A FULL_OBJECT CRC64NVME would avoid the read, but it cannot be compared
//                    with a SHA-256, and the S3 test peer does not compute it correctly.)
//   Content checks, on the bytes read back from the destination: `<name>.tar.gz` passes the Velero
//   tarball structural check (tarball.ts); every other `.gz` gunzips completely (gzip's CRC-32 and
//   length trailer catch corrupted or short bodies, which matters for DownloadRequest bodies that have
//   no source checksum at all).
// Skipping (re-runs, the incremental repository mirror): an object is skipped when the destination
// already states the same size and SHA-256 as the source (S3: full-object checksum or the
// x-amz-meta-sha256 the store writes only for uploads whose bytes it verified before completing;
// local folder: the sidecar bound to the file's inode, size and mtime; else read back and hashed).
// Repository blobs are first checked against the mirror index (core/export/mirror-index.ts,
// `state/mirror/…`): when the source lists the same ETag and size as the version copied and verified
// before, and the destination lists the same ETag as the object verified then, the blob is skipped
// from the two listings alone (no HEAD, no read); anything else takes the rule above.
// Write order (core/export/plan.ts, withdraw.ts): Velero's BSL sync lists a backup by `backups/<name>/velero-backup.json`, so
// an export must not look restorable before it is whole. Repository blobs and every other object of
// the backup are written and verified first; `velero-backup.json` is the last Velero object written,
// and the kots-backup manifest (`manifests/<name>.json`) last of all. After a failure
// `velero-backup.json` is the first object removed, then the backup's other objects this run wrote
// (repository blobs stay: each verified on its own, shared, and in the mirror index); nothing is
// removed when a valid manifest is present, and nothing is ever removed from the source. A crash
// (no clean-up) therefore leaves either no `velero-backup.json` or a backup whose objects all verified.
// Source objects whose key cannot be copied (the shared key rule, or the destination's keyProblem):
// in the backup's folder the export fails before writing; in a repository they are skipped, with a warning and a `skipped` entry in the manifest.
import { createHash, type Hash } from "node:crypto";
import { type Readable, Transform, type TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { type ObjectStore, ProblemError, type WrittenObject } from "@kots-backup/core";
import { checkVeleroTarball, type TarballReport } from "../tarball.ts";

/**
 * Passes bytes through, counting them, telling `onBytes` as they flow, and hashing them when asked
 * (a write need not: every store hashes what it writes and returns the SHA-256, so the bytes are
 * hashed once).
 */
export class Meter extends Transform {
  bytes = 0;
  sha256: string | undefined;
  readonly #hash: Hash | undefined;
  readonly #onBytes: ((n: number) => void) | undefined;

  constructor(options: MeterOptions = {}) {
    super();
    this.#onBytes = options.onBytes;
    if (options.hash) this.#hash = createHash("sha256");
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash?.update(chunk);
    this.bytes += chunk.length;
    this.#onBytes?.(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.sha256 = this.#hash?.digest("hex");
    callback();
  }
}

export interface MeterOptions {
  onBytes?: (n: number) => void;
  /** Compute the SHA-256 of the bytes (`sha256` once the input has ended). */
  hash?: boolean;
}

/** `source` piped into a new Meter, with source errors carried through. */
export function metered(source: Readable, options: MeterOptions = {}): Meter {
  const meter = new Meter(options);
  // The source may fail before the consumer attaches its listeners (a store awaiting mkdir, say):
  // keep that from being an uncaught error; the consumer still sees `meter.errored` and fails.
  meter.on("error", () => {});
  source.on("error", (error) => meter.destroy(error));
  meter.on("close", () => {
    if (!source.destroyed && !source.readableEnded) source.destroy();
  });
  source.pipe(meter);
  return meter;
}

export type ContentCheck = "tarball" | "gzip" | undefined;

/** The content check an exported key gets: the backup tarball, other gzip files, or none. */
export function contentCheckFor(key: string, backupName: string): ContentCheck {
  if (key.endsWith(`/${backupName}.tar.gz`)) return "tarball";
  if (key.endsWith(".gz")) return "gzip";
  return undefined;
}

export interface ReadBack {
  sha256: string;
  size: number;
  tarball?: TarballReport;
  gzipProblem?: string;
}

const sink = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

/** Reads `key` back from `store`, hashing it and running its content check, in one pass. */
export async function readBack(
  store: ObjectStore,
  key: string,
  check: ContentCheck,
  onBytes?: (n: number) => void,
): Promise<ReadBack> {
  const meter = metered(await store.get(key), { onBytes, hash: true });
  if (check === "tarball") {
    const tarball = await checkVeleroTarball(meter);
    return { sha256: meter.sha256 ?? "", size: meter.bytes, tarball };
  }
  if (check === "gzip") {
    try {
      await pipeline(meter, createGunzip(), sink());
      return { sha256: meter.sha256 ?? "", size: meter.bytes };
    } catch (error) {
      return { sha256: meter.sha256 ?? "", size: meter.bytes, gzipProblem: (error as Error).message };
    }
  }
  await pipeline(meter, sink());
  return { sha256: meter.sha256 ?? "", size: meter.bytes };
}

export interface Verification {
  sha256: string;
  size: number;
  /** How the destination's account was obtained: a checksum the store states (statedChecksums), or read back. */
  how: "stated-sha256" | "stated-crc32" | "read-back";
}

/** The source's account of the bytes written: size and SHA-256, and the CRC-32 when the write computed one. */
export interface Expected {
  sha256: string;
  size: number;
  crc32?: string | undefined;
}

/**
 * Verifies `key` in `store` against the source's `expected` SHA-256 and size, per the rule above.
 * Throws ProblemError `export-verification-failed` (or `tarball-invalid`) when it does not hold.
 */
export async function verifyStored(
  store: ObjectStore,
  key: string,
  expected: Expected,
  check: ContentCheck,
  onBytes?: (n: number) => void,
): Promise<Verification> {
  let result: Verification | undefined;
  if (check === undefined && store.statedChecksums) {
    const stated = await store.statedChecksums(key);
    if (stated?.sha256) {
      result = { sha256: stated.sha256, size: stated.size, how: "stated-sha256" };
    } else if (stated?.crc32 && expected.crc32) {
      if (stated.crc32 !== expected.crc32 || stated.size !== expected.size) {
        throw new ProblemError(
          "export-verification-failed",
          `${key} in ${store.location} does not match the bytes sent: stored ${stated.size} bytes with CRC-32 ${stated.crc32} (the store's own full-object checksum), sent ${expected.size} bytes with CRC-32 ${expected.crc32}`,
          { fix: "re-run the export; if it repeats, the destination or the network corrupts data" },
        );
      }
      // The bytes S3 holds are the ones sent, which hashed to the source's SHA-256.
      result = { sha256: expected.sha256, size: stated.size, how: "stated-crc32" };
    }
  }
  if (!result) {
    const back = await readBack(store, key, check, onBytes);
    if (back.tarball && !back.tarball.ok) {
      throw new ProblemError(
        "tarball-invalid",
        `${key} in ${store.location} is not a valid Velero backup tarball: ${back.tarball.problems.slice(0, 3).join("; ")}`,
        {
          fix: "the copy is damaged (or the backup is): re-run the export; if it repeats, check the backup with `velero backup describe --details`",
        },
      );
    }
    if (back.gzipProblem) {
      throw new ProblemError(
        "export-verification-failed",
        `${key} in ${store.location} is not a complete gzip file (${back.gzipProblem})`,
        {
          fix: "the download was damaged in transit: re-run the export",
        },
      );
    }
    result = { sha256: back.sha256, size: back.size, how: "read-back" };
  }
  if (result.size !== expected.size || result.sha256 !== expected.sha256) {
    throw new ProblemError(
      "export-verification-failed",
      `${key} in ${store.location} does not match its source: stored ${result.size} bytes with SHA-256 ${result.sha256} (${result.how}), source ${expected.size} bytes with SHA-256 ${expected.sha256}`,
      { fix: "re-run the export; if it repeats, the destination or the network corrupts data" },
    );
  }
  return result;
}

/** What a store's `put` says it wrote, as the account a verification compares the destination with. */
export function expectedOf(written: WrittenObject): Expected {
  return { sha256: written.sha256 ?? "", size: written.size, crc32: written.crc32 };
}

/** verifyStored; a destination object that fails is removed, so that a re-run never takes it for a good one. */
export async function verifyOrRemove(
  store: ObjectStore,
  key: string,
  expected: Expected,
  check: ContentCheck,
): Promise<void> {
  try {
    await verifyStored(store, key, expected, check);
  } catch (error) {
    await store.delete(key).catch(() => {});
    throw error;
  }
}

/** The SHA-256 a store states for an object it holds, or, failing that, the object read back and hashed. */
export async function statedOrHashed(
  store: ObjectStore,
  key: string,
  stated: string | undefined,
): Promise<string> {
  if (stated) return stated;
  return (await readBack(store, key, undefined)).sha256;
}

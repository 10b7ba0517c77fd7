// An ObjectStore on a local directory: the embedded default destination.
//
// Layout under the root:
//   <key>                                   the object's bytes (`/` in keys maps to folders)
//   .kots-backup-meta/objects/<hh>/<h>.json sidecar: SHA-256, etag, content type and tags (h = sha256(key))
//   .kots-backup-meta/locks/<h>.lock        per-key commit lock (O_EXCL file, broken when stale)
//   .kots-backup-meta/tmp/                  bodies being written (`.part`) and sidecars (`.meta`)
// `.kots-backup-meta` is never listed and cannot be used as a key. Keys must also fit the file system:
// no path segment over 255 bytes, no path over 4096 bytes (checked before any byte is written).
//
// Temporary files of a killed process are swept at the next write (then at most once per
// `tempStaleMs`): see sweepStaleTemp.
//
// Writes stream the body into a temp file (hashing it on the way, never holding it in memory),
// flush it to disk, then commit under the key's lock: check the precondition, record the sidecar,
// and move the file into place with rename (replace) or link (create-only: link fails if the key
// exists, so two processes can never both win, even if a stale lock were wrongly broken), then
// fsync the folder. The lock is held only for the commit, not while the body streams.
//
// Sidecar entries are bound to the data file they describe by its identity (inode, size, mtime in
// ns). During a commit the sidecar holds both the old and the new entry, so a reader always finds
// the entry for whichever file it sees. A data file changed behind the store's back (or a crash
// between the two renames) has no matching entry: it still gets an etag derived from its identity,
// but no sha256.
//
// etag: a fresh random token per write (prefixed with part of the SHA-256 for readability), so a
// rewrite with identical bytes still changes the etag. Compare etags only for equality.
import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, createWriteStream, type Dirent } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import {
  EnvironmentError,
  InputError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from "@kots-backup/core";
import { NotFoundError, PreconditionFailedError } from "./errors.ts";
import { Sha256Meter } from "./hashing.ts";
import { checkPrefix, compareKeys, isSha256Hex, keyProblem } from "./keys.ts";

export const LOCAL_META_DIR = ".kots-backup-meta";
/** Longest file name (one path segment) in bytes: NAME_MAX of ext4, XFS, btrfs, ZFS and APFS. */
const NAME_MAX_BYTES = 255;
/** Longest path in bytes Linux accepts (PATH_MAX, the terminating NUL included). */
const PATH_MAX_BYTES = 4095;

export interface LocalFolderStoreOptions {
  /** A lock file older than this is considered left by a crashed process and is broken (default 30 s). */
  lockStaleMs?: number;
  /** How long a writer waits for a key's lock before giving up (default 30 s). */
  lockWaitMs?: number;
  /** A temporary file untouched for this long is left by a killed process and is removed (default 1 h). */
  tempStaleMs?: number;
}

interface SidecarEntry {
  /** `<ino>:<size>:<mtimeNs>` of the data file this entry describes. */
  identity: string;
  etag: string;
  sha256?: string;
  contentType?: string;
  tags: Record<string, string>;
}

interface Sidecar {
  key: string;
  entries: SidecarEntry[];
}

export class LocalFolderStore implements ObjectStore {
  readonly location: string;
  /** Absolute path of the folder. */
  readonly root: string;
  private readonly metaRoot: string;
  private readonly tmpDir: string;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private readonly tempStaleMs: number;
  /** When this instance last swept the temporary folder (0: never). */
  private lastSweep = 0;

  constructor(root: string, options: LocalFolderStoreOptions = {}) {
    this.root = resolve(root);
    this.location = pathToFileURL(this.root).href;
    this.metaRoot = join(this.root, LOCAL_META_DIR);
    this.tmpDir = join(this.metaRoot, "tmp");
    this.lockStaleMs = options.lockStaleMs ?? 30_000;
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
    this.tempStaleMs = options.tempStaleMs ?? 60 * 60_000;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.checkKey(key);
    const st = await this.statData(key);
    if (!st) return undefined;
    const entry = await this.matchingEntry(key, st);
    return toInfo(key, st, entry);
  }

  async get(key: string): Promise<Readable> {
    this.checkKey(key);
    try {
      const handle = await open(this.dataPath(key), "r");
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw new NotFoundError(this.location, key);
      }
      return handle.createReadStream();
    } catch (error) {
      if (error instanceof NotFoundError) throw error;
      if (isCode(error, "ENOENT", "ENOTDIR", "EISDIR")) throw new NotFoundError(this.location, key);
      throw this.fsError("read", key, error);
    }
  }

  async put(key: string, body: Buffer | string | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    this.checkKey(key);
    if (options.sha256 !== undefined && !isSha256Hex(options.sha256)) {
      throw new InputError("invalid-sha256", `sha256 for ${key} must be 64 lower-case hex characters`);
    }
    // Fail fast before streaming a body that cannot win; the commit re-checks under the lock.
    if (options.ifNoneMatch && (await this.statPath(this.dataPath(key), key))) {
      throw new PreconditionFailedError(this.location, key);
    }
    const tmp = await this.writeTemp(key, body, options.sha256);
    try {
      return await this.withLock(key, () => this.commit(key, tmp.path, tmp.stats, tmp.sha256, options));
    } finally {
      await unlink(tmp.path).catch(() => {});
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.location);
    const slash = prefix.lastIndexOf("/");
    const startKey = slash >= 0 ? prefix.slice(0, slash) : "";
    if (startKey.split("/")[0] === LOCAL_META_DIR) return;
    yield* this.walk(startKey, prefix);
  }

  async delete(key: string): Promise<void> {
    this.checkKey(key);
    await this.withLock(key, async () => {
      const path = this.dataPath(key);
      try {
        await unlink(path);
      } catch (error) {
        if (isCode(error, "ENOENT", "ENOTDIR")) return; // already gone: delete is idempotent
        if (isCode(error, "EISDIR", "EPERM") && !(await this.statData(key))) return; // a folder, not an object
        throw this.fsError("delete", key, error);
      }
      await unlink(this.sidecarPath(key)).catch(() => {});
      await fsyncDir(dirname(path));
    });
  }

  async setTags(key: string, tags: Record<string, string>): Promise<void> {
    this.checkKey(key);
    await this.withLock(key, async () => {
      const st = await this.statData(key);
      if (!st) throw new NotFoundError(this.location, key);
      const entry = await this.matchingEntry(key, st);
      const updated: SidecarEntry = entry
        ? { ...entry, tags: { ...tags } }
        : { identity: identityOf(st), etag: statEtag(st), tags: { ...tags } };
      await this.writeSidecar(key, [updated]);
    });
  }

  /** The tags recorded for a key, or undefined when the key does not exist. */
  async tagsOf(key: string): Promise<Record<string, string> | undefined> {
    this.checkKey(key);
    const st = await this.statData(key);
    if (!st) return undefined;
    return { ...(await this.matchingEntry(key, st))?.tags };
  }

  // --- writing ---------------------------------------------------------------------------------

  private async writeTemp(
    key: string,
    body: Buffer | string | Readable,
    expectedSha256: string | undefined,
  ): Promise<{ path: string; stats: BigIntStats; sha256: string }> {
    await this.mkdirs(this.tmpDir, key);
    await this.sweepStaleTemp();
    const path = join(this.tmpDir, `${randomBytes(12).toString("hex")}.part`);
    const source =
      typeof body === "string" || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
    const meter = new Sha256Meter(this.location, key, expectedSha256);
    try {
      // flush: fsync before close, so the rename below never exposes a file whose bytes are not on disk.
      await pipeline(source, meter, createWriteStream(path, { flags: "wx", mode: 0o644, flush: true }));
      const stats = await stat(path, { bigint: true });
      return { path, stats, sha256: meter.sha256 ?? "" };
    } catch (error) {
      await unlink(path).catch(() => {});
      if (isCode(error, "EACCES", "EPERM", "ENOSPC", "EROFS", "EDQUOT"))
        throw this.fsError("write", key, error);
      throw error;
    }
  }

  private async commit(
    key: string,
    tmpPath: string,
    tmpStats: BigIntStats,
    sha256: string,
    options: PutOptions,
  ): Promise<ObjectInfo> {
    const path = this.dataPath(key);
    const current = await this.statPath(path, key);
    if (current?.isDirectory()) throw this.keyConflict(key);
    const currentEntry = current ? await this.matchingEntry(key, current) : undefined;
    if (options.ifNoneMatch && current) throw new PreconditionFailedError(this.location, key);
    if (options.ifMatch !== undefined) {
      const currentEtag = current ? (currentEntry?.etag ?? statEtag(current)) : undefined;
      if (currentEtag !== options.ifMatch) throw new PreconditionFailedError(this.location, key);
    }
    const entry: SidecarEntry = {
      identity: identityOf(tmpStats),
      etag: `"${sha256.slice(0, 24)}-${randomBytes(8).toString("hex")}"`,
      sha256,
      tags: { ...options.tags },
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
    };
    await this.mkdirs(dirname(path), key);
    // Both entries while the data file is swapped, so a reader finds a match for either file.
    await this.writeSidecar(key, currentEntry ? [entry, currentEntry] : [entry]);
    try {
      if (options.ifNoneMatch) await link(tmpPath, path);
      else await rename(tmpPath, path);
    } catch (error) {
      if (isCode(error, "EEXIST")) throw new PreconditionFailedError(this.location, key);
      if (isCode(error, "EISDIR", "ENOTDIR", "ENOTEMPTY")) throw this.keyConflict(key);
      throw this.fsError("write", key, error);
    }
    await fsyncDir(dirname(path));
    await this.writeSidecar(key, [entry]);
    return toInfo(key, tmpStats, entry);
  }

  private async writeSidecar(key: string, entries: SidecarEntry[]): Promise<void> {
    const path = this.sidecarPath(key);
    await this.mkdirs(dirname(path), key);
    const tmp = join(this.tmpDir, `${randomBytes(12).toString("hex")}.meta`);
    const sidecar: Sidecar = { key, entries };
    try {
      await writeFile(tmp, `${JSON.stringify(sidecar)}\n`, { flag: "wx", flush: true });
      await rename(tmp, path);
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw this.fsError("write metadata for", key, error);
    }
  }

  /**
   * Removes the temporary files a killed process left (a SIGKILLed export leaves its partial bodies:
   * hundreds of MB each). Stale means untouched (mtime) for `tempStaleMs`, 1 h by default. Age, not
   * the writer's pid: the folder may be shared by several hosts or containers (pid namespaces), where
   * a pid says nothing. A live writer touches its `.part` file with every chunk it receives; it is
   * idle only until its source's first byte and while it waits for the commit lock (at most
   * `lockWaitMs`, 30 s), far below an hour. Were a live writer's file ever removed, its commit fails
   * loudly (the rename finds no file): no object is ever committed from a swept file.
   */
  private async sweepStaleTemp(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < this.tempStaleMs) return;
    this.lastSweep = now;
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch {
      return; // a best effort: the write itself reports a folder it cannot use
    }
    for (const name of names) {
      if (!name.endsWith(".part") && !name.endsWith(".meta")) continue;
      const path = join(this.tmpDir, name);
      const st = await stat(path).catch(() => undefined);
      if (st?.isFile() && now - st.mtimeMs > this.tempStaleMs) await unlink(path).catch(() => {});
    }
  }

  // --- locking ---------------------------------------------------------------------------------

  private async withLock<T>(key: string, body: () => Promise<T>): Promise<T> {
    const path = this.lockPath(key);
    await this.mkdirs(dirname(path), key);
    const deadline = Date.now() + this.lockWaitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(path, "wx");
        try {
          await handle.writeFile(`${process.pid}@${hostname()} ${new Date().toISOString()} ${key}\n`);
        } finally {
          await handle.close();
        }
        break;
      } catch (error) {
        if (!isCode(error, "EEXIST")) throw this.fsError("lock", key, error);
      }
      const held = await stat(path).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > this.lockStaleMs) {
        await breakStaleLock(path, held.ino, held.mtimeMs);
        continue;
      }
      if (Date.now() > deadline) {
        throw new EnvironmentError(
          "local-store-lock-timeout",
          `timed out waiting for the write lock of ${key} in ${this.location}`,
          {
            fix: `another process is writing ${key}; if none is, delete ${path} (it is broken automatically after ${Math.round(this.lockStaleMs / 1000)} s)`,
          },
        );
      }
      await sleep(Math.min(50, 2 + attempt) * Math.random() + 1);
    }
    try {
      return await body();
    } finally {
      await unlink(path).catch(() => {});
    }
  }

  // --- reading ---------------------------------------------------------------------------------

  private async *walk(dirKey: string, prefix: string): AsyncGenerator<ObjectInfo> {
    const dir = dirKey === "" ? this.root : this.dataPath(dirKey);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, "ENOENT", "ENOTDIR")) return;
      throw this.fsError("list", dirKey || "/", error);
    }
    // Sorting each folder by name, with a folder compared as "name/", yields keys in byte order overall.
    const sortName = (e: Dirent) => (e.isDirectory() ? `${e.name}/` : e.name);
    entries.sort((a, b) => compareKeys(sortName(a), sortName(b)));
    for (const entry of entries) {
      if (dirKey === "" && entry.name === LOCAL_META_DIR) continue;
      const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        const asPrefix = `${key}/`;
        if (asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const st = await stat(join(dir, entry.name), { bigint: true }).catch(() => undefined);
        if (st?.isFile()) yield toInfo(key, st, await this.matchingEntry(key, st));
      }
    }
  }

  private async matchingEntry(key: string, st: BigIntStats): Promise<SidecarEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.sidecarPath(key), "utf8");
    } catch (error) {
      if (isCode(error, "ENOENT", "ENOTDIR")) return undefined;
      throw this.fsError("read metadata for", key, error);
    }
    let sidecar: unknown;
    try {
      sidecar = JSON.parse(text);
    } catch {
      return undefined; // a torn or foreign file: treat like a missing sidecar
    }
    if (!isSidecar(sidecar) || sidecar.key !== key) return undefined;
    const identity = identityOf(st);
    return sidecar.entries.find((e) => e.identity === identity);
  }

  private async statData(key: string): Promise<BigIntStats | undefined> {
    const st = await this.statPath(this.dataPath(key), key);
    return st?.isFile() ? st : undefined;
  }

  private async statPath(path: string, key: string): Promise<BigIntStats | undefined> {
    try {
      return await stat(path, { bigint: true });
    } catch (error) {
      if (isCode(error, "ENOENT", "ENOTDIR")) return undefined;
      throw this.fsError("read", key, error);
    }
  }

  // --- paths and errors ------------------------------------------------------------------------

  /** Why `key` cannot be stored in this folder (the shared key rule, then the file system's limits), or undefined. */
  keyProblem(key: string): string | undefined {
    const shared = keyProblem(key);
    if (shared) return shared;
    const segments = key.split("/");
    if (segments[0] === LOCAL_META_DIR) return `inside the store's metadata folder ${LOCAL_META_DIR}/`;
    const long = segments.find((segment) => Buffer.byteLength(segment) > NAME_MAX_BYTES);
    if (long)
      return `has a path segment of ${Buffer.byteLength(long)} bytes (file names are limited to ${NAME_MAX_BYTES})`;
    const pathBytes = Buffer.byteLength(this.dataPath(key));
    if (pathBytes > PATH_MAX_BYTES)
      return `its path in the folder is ${pathBytes} bytes (paths are limited to ${PATH_MAX_BYTES})`;
    return undefined;
  }

  private checkKey(key: string): void {
    const problem = this.keyProblem(key);
    if (problem) {
      throw new InputError(
        "invalid-object-key",
        `invalid object key ${JSON.stringify(key)} for ${this.location}: ${problem}`,
        {
          fix: `use a relative key of \`/\`-separated names without empty, \`.\` or \`..\` parts, each at most ${NAME_MAX_BYTES} bytes, outside ${LOCAL_META_DIR}/`,
        },
      );
    }
  }

  private dataPath(key: string): string {
    return join(this.root, ...key.split("/"));
  }

  private sidecarPath(key: string): string {
    const h = hashKey(key);
    return join(this.metaRoot, "objects", h.slice(0, 2), `${h}.json`);
  }

  private lockPath(key: string): string {
    return join(this.metaRoot, "locks", `${hashKey(key)}.lock`);
  }

  private async mkdirs(path: string, key: string): Promise<void> {
    try {
      await mkdir(path, { recursive: true });
    } catch (error) {
      if (isCode(error, "ENOTDIR", "EEXIST")) throw this.keyConflict(key);
      throw this.fsError("create folders for", key, error);
    }
  }

  private keyConflict(key: string): InputError {
    return new InputError(
      "local-store-key-conflict",
      `cannot store ${key} in ${this.location}: a file and a folder would have the same name`,
      { fix: "a key cannot be both an object and the prefix of other objects in a local folder store" },
    );
  }

  private fsError(action: string, key: string, error: unknown): EnvironmentError {
    const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "unknown";
    const fix =
      code === "EACCES" || code === "EPERM"
        ? `give the user running kots-backup write access to ${this.root}`
        : code === "ENOSPC" || code === "EDQUOT"
          ? `free space on the disk holding ${this.root}`
          : code === "EROFS"
            ? `${this.root} is on a read-only file system; choose another destination`
            : `check the folder ${this.root}`;
    return new EnvironmentError(
      "local-store-error",
      `could not ${action} ${key} in ${this.location} (${code})`,
      {
        fix,
        cause: error,
      },
    );
  }
}

function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function identityOf(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}`;
}

function statEtag(st: BigIntStats): string {
  return `"stat-${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}"`;
}

function toInfo(key: string, st: BigIntStats, entry: SidecarEntry | undefined): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: Number(st.size),
    etag: entry?.etag ?? statEtag(st),
    lastModified: new Date(Number(st.mtimeMs)),
  };
  if (entry?.sha256 !== undefined) info.sha256 = entry.sha256;
  return info;
}

function isSidecar(value: unknown): value is Sidecar {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.key === "string" &&
    Array.isArray(v.entries) &&
    v.entries.every(
      (e: unknown) =>
        typeof e === "object" &&
        e !== null &&
        typeof (e as SidecarEntry).identity === "string" &&
        typeof (e as SidecarEntry).etag === "string" &&
        ((e as SidecarEntry).sha256 === undefined || isSha256Hex((e as SidecarEntry).sha256)) &&
        typeof (e as SidecarEntry).tags === "object",
    )
  );
}

/**
 * Removes a lock left by a crashed process. The lock is first renamed aside, then checked to be the
 * same stale file that was judged (same inode and mtime); if a live holder replaced it in between,
 * it is put back (link fails harmlessly if yet another process took the lock meanwhile).
 */
async function breakStaleLock(path: string, ino: number, mtimeMs: number): Promise<void> {
  const aside = `${path}.stale-${randomBytes(6).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await stat(aside).catch(() => undefined);
  if (moved && (moved.ino !== ino || moved.mtimeMs !== mtimeMs)) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

async function fsyncDir(path: string): Promise<void> {
  try {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on folders; the data file itself is already flushed.
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && codes.includes(code);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

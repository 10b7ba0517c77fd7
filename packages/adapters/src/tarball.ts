// Structural check of a Velero backup tarball (`<name>.tar.gz`, format 1.x; kots-velero.md §6), streamed:
// gunzip + tar parse entry by entry, never holding more than one entry (one Kubernetes object) in memory.
//   1. gunzip and tar parse succeed (gzip's CRC-32 and length trailer catch corrupted or short bodies);
//   2. `metadata/version` exists and is a semver starting with `1.`;
//   3. at least one `resources/<gr>/(cluster|namespaces/<ns>)/<name>.json` entry;
//   4. every `resources/` file matches RESOURCE_PATH (Velero's restore-side layout);
//   5. every `.json` under `resources/` parses to an object with apiVersion, kind and metadata.name;
//   6. no entry a restore must never trust: only regular files and folders (no symlink, hard link,
//      device or FIFO), no absolute path, no `..` component;
//   7. bounded decompression (TARBALL_LIMITS): a gzip bomb is refused after a bounded amount of work.
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";

/** kots-velero.md §6, rule 4. */
export const RESOURCE_PATH =
  /^resources\/[^/]+\/((v[^/]+(-preferredversion)?)\/)?(cluster\/[^/]+\.json|namespaces\/[^/]+\/[^/]+\.json)$/;
/** A resource entry at its primary path (rule 3). */
const PRIMARY_RESOURCE = /^resources\/[^/]+\/(cluster|namespaces\/[^/]+)\/[^/]+\.json$/;
const VERSION = /^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
/** Largest single entry read into memory (one Kubernetes object, or the version file). */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Problems listed in a report; the count goes on. */
const MAX_PROBLEMS = 20;
/** Entry types a Velero tarball holds (Velero writes regular files only); anything else is refused. */
const TRUSTED_TYPES = new Set(["file", "contiguous-file", "directory"]);

export interface TarballLimits {
  /** Most bytes the tarball may decompress to. */
  maxBytes: number;
  /** Most decompressed bytes per compressed byte. */
  maxRatio: number;
  /** Decompressed bytes before `maxRatio` is enforced. */
  ratioFromBytes: number;
}

/**
 * Decompression bounds (rule 7), fixed on purpose: they are safety limits, not tuning.
 *   maxBytes 16 GiB: a tarball holds the cluster's Kubernetes objects as JSON, each at most ~1.5 MiB
 *     (etcd's request limit); real ones decompress to MiB, a few GiB on very large clusters. 16 GiB
 *     is far above that, and bounds the check to about a minute of gunzip.
 *   maxRatio 200: JSON gzips 10–30 to 1 (Velero tarballs measure so); 200 leaves ~7× headroom for very
 *     repetitive objects, while a gzip bomb runs near deflate's maximum of ~1000 to 1.
 *   ratioFromBytes 64 MiB: the ratio is measured as bytes flow, and the start of a tarball (tar headers,
 *     zero padding) compresses far better than the whole; below 64 MiB the work is bounded anyway.
 */
export const TARBALL_LIMITS: Readonly<TarballLimits> = {
  maxBytes: 16 * 1024 ** 3,
  maxRatio: 200,
  ratioFromBytes: 64 * 1024 ** 2,
};

export interface TarballReport {
  ok: boolean;
  /** `metadata/version`'s content, trimmed. */
  formatVersion?: string;
  entries: number;
  /** JSON objects under `resources/` (each counted at every path it appears). */
  resources: number;
  /**
   * The backed-up items at their primary path, as Velero's resource list names them:
   * `<apiVersion>/<Kind>` → `<namespace>/<name>` (or `<name>` when cluster-scoped).
   */
  items: Record<string, string[]>;
  problems: string[];
  problemCount: number;
}

/** An entry name as shown in a problem: escaped (cluster data), and cut when very long. */
function shown(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

/** Why a restore must never trust an entry (rule 6), or undefined. */
function untrusted(type: string | null | undefined, name: string): string | undefined {
  if (!TRUSTED_TYPES.has(type ?? "")) return `is a ${type ?? "non-standard entry"}, not a regular file`;
  if (name.startsWith("/")) return "has an absolute path";
  if (name.split("/").includes("..")) return "has a .. component";
  return undefined;
}

class DecompressionBound extends Error {}

/** Counts the bytes that pass; fails the stream when `check` names a problem. */
class Counter extends Transform {
  bytes = 0;
  readonly #check: ((bytes: number) => string | undefined) | undefined;
  constructor(check?: (bytes: number) => string | undefined) {
    super();
    this.#check = check;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    const problem = this.#check?.(this.bytes);
    callback(problem ? new DecompressionBound(problem) : null, chunk);
  }
}

/**
 * Reads the whole stream (or up to a decompression bound) and reports; never throws for a bad
 * tarball (only `ok: false`). `limits` is for tests; the product always uses TARBALL_LIMITS.
 */
export async function checkVeleroTarball(
  body: Readable,
  limits: Readonly<TarballLimits> = TARBALL_LIMITS,
): Promise<TarballReport> {
  const report: TarballReport = {
    ok: false,
    entries: 0,
    resources: 0,
    items: {},
    problems: [],
    problemCount: 0,
  };
  const problem = (text: string) => {
    report.problemCount += 1;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(text);
  };
  let primary = 0;
  const parser = extract();
  parser.on("entry", (header, stream, next) => {
    report.entries += 1;
    // When the pipeline fails (a decompression bound, a corrupt body) the parser destroys the entry
    // being read with that error; the pipeline reports it.
    stream.on("error", () => {});
    const name = header.name.replace(/^\.\//, "");
    const refused = untrusted(header.type, name);
    if (refused) problem(`entry ${shown(name)} ${refused}: a restore must never trust it`);
    const isFile = !refused && (header.type === "file" || header.type === "contiguous-file");
    const wantBody =
      isFile && (name === "metadata/version" || (name.startsWith("resources/") && name.endsWith(".json")));
    if (isFile && name.startsWith("resources/")) {
      if (!RESOURCE_PATH.test(name))
        problem(
          `unexpected path ${shown(name)} (not resources/<gr>/[<version>/](cluster|namespaces/<ns>)/<name>.json)`,
        );
      if (PRIMARY_RESOURCE.test(name)) primary += 1;
    }
    if (!wantBody) {
      stream.on("end", () => next());
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    stream.on("data", (data: unknown) => {
      const chunk = data as Buffer;
      size += chunk.length;
      if (size > MAX_ENTRY_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    stream.on("end", () => {
      if (tooBig) problem(`${shown(name)} is larger than ${MAX_ENTRY_BYTES} bytes`);
      else inspectEntry(name, Buffer.concat(chunks));
      next();
    });
  });
  const inspectEntry = (name: string, body: Buffer) => {
    if (name === "metadata/version") {
      report.formatVersion = body.toString("utf8").trim();
      if (!VERSION.test(report.formatVersion))
        problem(`metadata/version is ${shown(report.formatVersion.slice(0, 40))}, not a 1.x semver`);
      return;
    }
    let object: unknown;
    try {
      object = JSON.parse(body.toString("utf8"));
    } catch {
      problem(`${shown(name)} is not valid JSON`);
      return;
    }
    report.resources += 1;
    const o = object as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    } | null;
    if (typeof o !== "object" || o === null || Array.isArray(o))
      problem(`${shown(name)} is not a JSON object`);
    else if (
      typeof o.apiVersion !== "string" ||
      typeof o.kind !== "string" ||
      typeof o.metadata?.name !== "string"
    ) {
      problem(`${shown(name)} lacks apiVersion, kind or metadata.name`);
    } else if (PRIMARY_RESOURCE.test(name)) {
      const namespace = typeof o.metadata.namespace === "string" ? `${o.metadata.namespace}/` : "";
      const type = `${o.apiVersion}/${o.kind}`;
      const items = Object.hasOwn(report.items, type) ? (report.items[type] as string[]) : [];
      items.push(`${namespace}${o.metadata.name}`);
      report.items[type] = items;
    }
  };
  const compressed = new Counter();
  const decompressed = new Counter((bytes) => {
    if (bytes > limits.maxBytes)
      return `it decompresses to more than ${limits.maxBytes} bytes: refused as a decompression bomb`;
    if (bytes > limits.ratioFromBytes && bytes > limits.maxRatio * compressed.bytes)
      return `it decompresses to more than ${limits.maxRatio} times its compressed size (${bytes} bytes from ${compressed.bytes}): refused as a decompression bomb`;
    return undefined;
  });
  try {
    await pipeline(body, compressed, createGunzip(), decompressed, parser);
  } catch (error) {
    if (error instanceof DecompressionBound) problem(error.message);
    else problem(`not a readable gzip'd tar: ${(error as Error).message}`);
    report.ok = false;
    return report;
  }
  if (report.formatVersion === undefined) problem("no metadata/version entry");
  if (primary === 0) problem("no resources/<group-resource>/(cluster|namespaces/<ns>)/<name>.json entry");
  report.ok = report.problemCount === 0;
  return report;
}

// Structural check of a Velero backup tarball (`<name>.tar.gz`, format 1.x; kots-velero.md §6), streamed:
// gunzip + tar parse entry by entry, never holding more than one entry (one Kubernetes object) in memory.
//   1. gunzip and tar parse succeed (gzip's CRC-32 and length trailer catch corrupted or short bodies);
//   2. `metadata/version` exists and is a semver starting with `1.`;
//   3. at least one `resources/<gr>/(cluster|namespaces/<ns>)/<name>.json` entry;
//   4. every `resources/` file matches RESOURCE_PATH (Velero's restore-side layout);
//   5. every `.json` under `resources/` parses to an object with apiVersion, kind and metadata.name.
import type { Readable } from "node:stream";
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

export interface TarballReport {
  ok: boolean;
  /** `metadata/version`'s content, trimmed. */
  formatVersion?: string;
  entries: number;
  /** JSON objects under `resources/` (each counted at every path it appears). */
  resources: number;
  problems: string[];
  problemCount: number;
}

/** Reads the whole stream and reports; never throws for a bad tarball (only `ok: false`). */
export async function checkVeleroTarball(body: Readable): Promise<TarballReport> {
  const report: TarballReport = { ok: false, entries: 0, resources: 0, problems: [], problemCount: 0 };
  const problem = (text: string) => {
    report.problemCount += 1;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(text);
  };
  let primary = 0;
  const parser = extract();
  parser.on("entry", (header, stream, next) => {
    report.entries += 1;
    const name = header.name.replace(/^\.\//, "");
    const isFile = header.type === "file" || header.type === "contiguous-file";
    const wantBody =
      isFile && (name === "metadata/version" || (name.startsWith("resources/") && name.endsWith(".json")));
    if (isFile && name.startsWith("resources/")) {
      if (!RESOURCE_PATH.test(name))
        problem(
          `unexpected path ${name} (not resources/<gr>/[<version>/](cluster|namespaces/<ns>)/<name>.json)`,
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
      if (tooBig) problem(`${name} is larger than ${MAX_ENTRY_BYTES} bytes`);
      else inspectEntry(name, Buffer.concat(chunks));
      next();
    });
  });
  const inspectEntry = (name: string, body: Buffer) => {
    if (name === "metadata/version") {
      report.formatVersion = body.toString("utf8").trim();
      if (!VERSION.test(report.formatVersion))
        problem(`metadata/version is "${report.formatVersion.slice(0, 40)}", not a 1.x semver`);
      return;
    }
    let object: unknown;
    try {
      object = JSON.parse(body.toString("utf8"));
    } catch {
      problem(`${name} is not valid JSON`);
      return;
    }
    report.resources += 1;
    const o = object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
    if (typeof o !== "object" || o === null || Array.isArray(o)) problem(`${name} is not a JSON object`);
    else if (
      typeof o.apiVersion !== "string" ||
      typeof o.kind !== "string" ||
      typeof o.metadata?.name !== "string"
    ) {
      problem(`${name} lacks apiVersion, kind or metadata.name`);
    }
  };
  try {
    await pipeline(body, createGunzip(), parser);
  } catch (error) {
    problem(`not a readable gzip'd tar: ${(error as Error).message}`);
    report.ok = false;
    return report;
  }
  if (report.formatVersion === undefined) problem("no metadata/version entry");
  if (primary === 0) problem("no resources/<group-resource>/(cluster|namespaces/<ns>)/<name>.json entry");
  report.ok = report.problemCount === 0;
  return report;
}

// The full scope's repository mirror state (core/export/mirror-index.ts): the index read at the start
// with the destination's repository listing, what verified this run, and the index saved at the end.
import type { ObjectInfo, ObjectStore } from "@kots-backup/core";
import { type MirrorEntry, type MirrorIndex, parseMirrorIndex } from "@kots-backup/core/export/mirror-index";
import { mirrorIndexKey, REPOSITORY_PREFIXES } from "@kots-backup/core/export-layout";
import { readText } from "@kots-backup/core/usecases/stored-json";
import type { ExportLog } from "./engine.ts";

export interface MirrorState {
  key: string;
  source: string;
  previous: MirrorIndex["objects"];
  /** Destination repository objects as listed at the start (key → size, ETag). */
  dest: Map<string, { size: number; etag: string }>;
  verified: Map<string, MirrorEntry>;
}

/** Every object under `prefix`. */
export async function listAll(store: ObjectStore, prefix: string): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  for await (const info of store.list(prefix)) found.push(info);
  return found;
}

export async function loadMirror(source: ObjectStore, dest: ObjectStore): Promise<MirrorState> {
  const key = mirrorIndexKey(source.location);
  const readPrevious = async (): Promise<MirrorIndex["objects"]> => {
    try {
      if (!(await dest.head(key))) return {};
      const text = await readText(await dest.get(key), 512 * 1024 * 1024);
      return (text ? parseMirrorIndex(JSON.parse(text), source.location) : undefined)?.objects ?? {};
    } catch {
      return {}; // a cache: unreadable means the slow path
    }
  };
  const [previous, listings] = await Promise.all([
    readPrevious(),
    Promise.all(REPOSITORY_PREFIXES.map((prefix) => listAll(dest, prefix))),
  ]);
  const listing = new Map<string, { size: number; etag: string }>();
  for (const info of listings.flat()) listing.set(info.key, { size: info.size, etag: info.etag });
  return { key, source: source.location, previous, dest: listing, verified: new Map() };
}

export async function saveMirror(dest: ObjectStore, mirror: MirrorState, log: ExportLog): Promise<void> {
  if (mirror.verified.size === 0 && Object.keys(mirror.previous).length === 0) return;
  const objects: MirrorIndex["objects"] = { ...mirror.previous };
  for (const [key, entry] of mirror.verified) objects[key] = entry;
  const index: MirrorIndex = { formatVersion: 1, source: mirror.source, objects };
  try {
    await dest.put(mirror.key, JSON.stringify(index), { contentType: "application/json" });
  } catch (error) {
    log("warn", "could not save the repository mirror index; the next export checks every blob again", {
      reason: (error as Error).message,
    });
  }
}

// Reading and writing `manifests/<name>.json` at the destination; what goes in it is core's
// (core/export/manifest.ts).
import { type ObjectStore, ProblemError } from "@kots-backup/core";
import { manifestConflict } from "@kots-backup/core/export/manifest";
import { type ExportManifest, parseManifest } from "@kots-backup/core/export-layout";
import { isPreconditionFailed, readText, toJson } from "@kots-backup/core/usecases/stored-json";

/** A manifest read from the destination, or undefined when missing or invalid. */
export async function readManifest(store: ObjectStore, key: string): Promise<ExportManifest | undefined> {
  try {
    const text = await readText(await store.get(key), 256 * 1024 * 1024);
    return text === undefined ? undefined : parseManifest(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * Writes `manifest` at `key`: create-only, or replacing exactly `replaceEtag` (an invalid manifest found
 * there). Returns another run's manifest of the same backup when that run wrote one first; undefined
 * once ours is written and reads back valid.
 */
export async function writeManifest(
  dest: ObjectStore,
  key: string,
  manifest: ExportManifest,
  replaceEtag: string | undefined,
): Promise<ExportManifest | undefined> {
  try {
    await dest.put(key, toJson(manifest), {
      contentType: "application/json",
      ...(replaceEtag ? { ifMatch: replaceEtag } : { ifNoneMatch: true }),
    });
  } catch (error) {
    const found = isPreconditionFailed(error) ? await readManifest(dest, key) : undefined;
    const conflict = manifestConflict(manifest, found);
    if (conflict === "theirs") return found;
    if (conflict === "refused") throw error;
  }
  if (!(await readManifest(dest, key)))
    throw new ProblemError("export-verification-failed", `${key} did not read back as a valid manifest`, {
      fix: "re-run the export",
    });
  return undefined;
}

// The copy step: writes the plan's objects (core/export/plan.ts) in its order, each verified
// (integrity.ts), and keeps the account the manifest and withdraw need. Full scope objects come from
// the BSL (here); DownloadRequest files and velero-backup.json from the API from download.ts.
//
// A BSL object is skipped when the destination already holds it (same size and SHA-256; a repository
// blob also from the mirror index alone), else copied server-side when the destination can copy from
// the source (its `canCopyFrom` capability) and the configuration allows it (same endpoint and
// account), else streamed: GET → (multipart) PUT.
import { ProblemError, type WrittenObject } from "@kots-backup/core";
import { unchangedSinceVerified } from "@kots-backup/core/export/mirror-index";
import {
  type BslObject,
  type ExportPlan,
  isBackupObject,
  type PlannedObject,
} from "@kots-backup/core/export/plan";
import type { ManifestObject } from "@kots-backup/core/export-layout";
import type { VeleroBackup } from "@kots-backup/core/velero";
import { ChecksumMismatchError } from "../store/errors.ts";
import { copyFromDownload, writeBackupDocument } from "./download.ts";
import type { ExportDeps, ExportLog } from "./engine.ts";
import { contentCheckFor, expectedOf, metered, statedOrHashed, verifyOrRemove } from "./integrity.ts";
import { type MirrorState, saveMirror } from "./mirror.ts";
import { runPool } from "./pool.ts";

/** One object written (or found already there) and verified. */
export interface CopyOutcome {
  size: number;
  sha256: string;
  copied: boolean;
}

/** What the copy step did so far: the manifest is built from it, and withdraw reads `wrote` after a failure. */
export interface Copied {
  /** Every object verified at the destination. */
  objects: ManifestObject[];
  /** Destination keys this run wrote. */
  wrote: string[];
  doneBytes: number;
  doneObjects: number;
  copiedObjects: number;
  copiedBytes: number;
  skipped: number;
}

export function nothingCopied(): Copied {
  return {
    objects: [],
    wrote: [],
    doneBytes: 0,
    doneObjects: 0,
    copiedObjects: 0,
    copiedBytes: 0,
    skipped: 0,
  };
}

export interface CopyContext {
  deps: ExportDeps;
  backup: VeleroBackup;
  mirror: MirrorState | undefined;
  log: ExportLog;
}

/**
 * Step 1 of the plan, a few objects at a time (the mirror index saved after it, also after a failure:
 * what verified so far lets the next run resume without re-checking it), then step 2 alone.
 */
export async function copyPlanned(plan: ExportPlan, context: CopyContext, copied: Copied): Promise<void> {
  const { deps, backup, mirror, log } = context;
  const name = backup.metadata.name;
  const report = (bytes: number) => {
    copied.doneBytes += bytes;
    deps.progress?.({
      phase: "copy",
      doneBytes: copied.doneBytes,
      ...(plan.totalBytes === undefined ? {} : { totalBytes: plan.totalBytes }),
      doneObjects: copied.doneObjects,
      totalObjects: plan.totalObjects,
    });
  };
  const copyOne = async (item: PlannedObject): Promise<void> => {
    const outcome =
      item.from === "bsl"
        ? await copyFromBsl(item, { deps, name, report, mirror })
        : item.from === "download"
          ? await copyFromDownload(deps, item, name, report, log)
          : await writeBackupDocument(deps.destination, item.destKey, backup);
    if (outcome.copied) copied.wrote.push(item.destKey);
    copied.objects.push({ key: item.destKey, size: outcome.size, sha256: outcome.sha256 });
    copied.doneObjects += 1;
    if (outcome.copied) {
      copied.copiedObjects += 1;
      copied.copiedBytes += outcome.size;
    } else {
      copied.skipped += 1;
      report(0);
    }
  };
  try {
    await runPool(plan.objects, deps.concurrency ?? 4, copyOne);
  } finally {
    if (mirror) await saveMirror(deps.destination, mirror, log);
  }
  await copyOne(plan.veleroBackup);
}

interface BslCopy {
  deps: ExportDeps;
  name: string;
  report: (n: number) => void;
  mirror: MirrorState | undefined;
}

/** One object of the full scope: skipped when already there, else copied, then verified. */
async function copyFromBsl(item: BslObject, copy: BslCopy): Promise<CopyOutcome> {
  const { mirror } = copy;
  const sourceKey = item.sourceKey;
  if (item.repository && mirror) {
    const entry = mirror.previous[sourceKey];
    const listed = { size: item.size, etag: item.repository.sourceEtag };
    if (entry && unchangedSinceVerified(entry, listed, mirror.dest.get(item.destKey))) {
      mirror.verified.set(sourceKey, entry);
      return { size: entry.size, sha256: entry.sha256, copied: false };
    }
    const outcome = await copyFromBslChecked(item, copy);
    if (outcome.sourceEtag && outcome.destEtag) {
      mirror.verified.set(sourceKey, {
        sourceEtag: outcome.sourceEtag,
        size: outcome.size,
        sha256: outcome.sha256,
        destEtag: outcome.destEtag,
      });
    }
    return outcome;
  }
  return copyFromBslChecked(item, copy);
}

async function copyFromBslChecked(
  item: BslObject,
  { deps, name, report, mirror }: BslCopy,
): Promise<CopyOutcome & { sourceEtag?: string; destEtag?: string }> {
  const source = deps.source!.store;
  const dest = deps.destination;
  const { sourceKey, destKey } = item;
  const ownObject = isBackupObject(destKey, name);
  const check = ownObject ? contentCheckFor(destKey, name) : undefined;
  const sourceInfo = await source.head(sourceKey);
  if (!sourceInfo) {
    throw new ProblemError(
      "source-object-vanished",
      `${sourceKey} disappeared from the BSL during the export`,
      {
        fix: "re-run the export (Velero's repository maintenance may have removed it); if the backup was deleted, export another",
      },
    );
  }
  // The listing says whether a repository blob is at the destination at all: no HEAD for new blobs.
  const listed = item.repository && mirror ? mirror.dest.get(destKey) : undefined;
  const existing = item.repository && mirror && !listed ? undefined : await dest.head(destKey);
  if (existing && existing.size === sourceInfo.size) {
    const sourceSha = await statedOrHashed(source, sourceKey, sourceInfo.sha256);
    const destSha = await statedOrHashed(dest, destKey, existing.sha256);
    if (sourceSha === destSha) {
      // Backup objects are re-verified (content checks included); repository blobs rest on the
      // size + checksum equality the destination itself states.
      if (ownObject) await verifyOrRemove(dest, destKey, { sha256: sourceSha, size: sourceInfo.size }, check);
      return {
        size: sourceInfo.size,
        sha256: sourceSha,
        copied: false,
        sourceEtag: sourceInfo.etag,
        destEtag: existing.etag,
      };
    }
  }
  if (deps.serverSideCopy && dest.copyFrom && dest.canCopyFrom?.(source)) {
    const sourceSha = await statedOrHashed(source, sourceKey, sourceInfo.sha256);
    const copied = await dest.copyFrom(source, sourceKey, destKey, deps.copyOptions ?? {});
    report(sourceInfo.size);
    await verifyOrRemove(dest, destKey, { sha256: sourceSha, size: sourceInfo.size }, check);
    return {
      size: sourceInfo.size,
      sha256: sourceSha,
      copied: true,
      sourceEtag: sourceInfo.etag,
      destEtag: copied.etag,
    };
  }
  const meter = metered(await source.get(sourceKey), { onBytes: report });
  let written: WrittenObject;
  try {
    written = await dest.put(destKey, meter, sourceInfo.sha256 ? { sha256: sourceInfo.sha256 } : {});
  } catch (error) {
    if (error instanceof ChecksumMismatchError) {
      throw new ProblemError(
        "source-checksum-mismatch",
        `${sourceKey} read from the BSL does not hash to the SHA-256 the BSL states for it: nothing was stored`,
        {
          fix: "re-run the export; if it repeats, the source object is corrupt",
          cause: error,
        },
      );
    }
    throw error;
  }
  if (meter.bytes !== sourceInfo.size) {
    await dest.delete(destKey).catch(() => {});
    throw new ProblemError(
      "short-read",
      `${sourceKey}: read ${meter.bytes} bytes from the BSL, expected ${sourceInfo.size}`,
      { fix: "re-run the export" },
    );
  }
  await verifyOrRemove(dest, destKey, expectedOf(written), check);
  return {
    size: written.size,
    sha256: written.sha256 ?? "",
    copied: true,
    sourceEtag: sourceInfo.etag,
    destEtag: written.etag,
  };
}

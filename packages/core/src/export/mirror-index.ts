// The repository mirror's index: what the export engine knows it copied and verified from one source
// BSL's file-system-backup repositories (`kopia/…`, `restic/…`), so that the next export can skip
// unchanged blobs from two LISTs alone, without a HEAD or a read per blob. It is a cache: an entry
// only says "this source version (ETag, size) was copied to a destination version (ETag) whose
// content hashed to sha256 and verified". A missing or stale entry only costs the slow path.
// Stored under kots-backup's own state (`state/mirror/…`), never under `velero/`.
import { z } from "zod";

export const MirrorEntrySchema = z.strictObject({
  /** ETag of the source object version that was copied. */
  sourceEtag: z.string().min(1),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** ETag of the destination object as verified; a different ETag means it changed since. */
  destEtag: z.string().min(1),
});
export type MirrorEntry = z.infer<typeof MirrorEntrySchema>;

export const MirrorIndexSchema = z.strictObject({
  formatVersion: z.literal(1),
  /** The source BSL location (`s3://bucket/prefix`, no credentials). */
  source: z.string().min(1),
  /** Keyed by the source key (`kopia/<ns>/<blob>`). */
  objects: z.record(z.string(), MirrorEntrySchema),
});
export type MirrorIndex = z.infer<typeof MirrorIndexSchema>;

/** The index, or undefined when the document is not one (a stale or foreign file is ignored). */
export function parseMirrorIndex(input: unknown, sourceLocation: string): MirrorIndex | undefined {
  const result = MirrorIndexSchema.safeParse(input);
  return result.success && result.data.source === sourceLocation ? result.data : undefined;
}

/** Whether a repository blob can be skipped: source and destination are the versions the index vouches for. */
export function unchangedSinceVerified(
  entry: MirrorEntry | undefined,
  source: { size: number; etag: string },
  dest: { size: number; etag: string } | undefined,
): boolean {
  return (
    entry !== undefined &&
    dest !== undefined &&
    entry.sourceEtag === source.etag &&
    entry.size === source.size &&
    dest.size === entry.size &&
    dest.etag === entry.destEtag
  );
}

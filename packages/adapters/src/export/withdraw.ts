// After a failed export nothing at the destination may look like a restorable backup: what is removed,
// and in which order, is core's (withdrawalOrder in core/export/plan.ts); this removes it.
import { InputError, type ObjectStore, ProblemError } from "@kots-backup/core";
import { isExportOf } from "@kots-backup/core/export/manifest";
import { withdrawalOrder } from "@kots-backup/core/export/plan";
import { manifestKey, veleroBackupKeys } from "@kots-backup/core/export-layout";
import type { ExportLog } from "./engine.ts";
import { readManifest } from "./manifest-store.ts";

/**
 * Removes velero-backup.json, then the backup's objects this run wrote (`wrote`). Nothing is removed
 * when a valid manifest for the backup is present (another run completed the export meanwhile), and
 * never anything in the source. A failed removal is logged, not thrown: the export's own error is
 * the one to report.
 */
export async function withdraw(
  dest: ObjectStore,
  name: string,
  wrote: readonly string[],
  log: ExportLog,
): Promise<void> {
  if (isExportOf(await readManifest(dest, manifestKey(name)), name)) return;
  const metadata = veleroBackupKeys(name).metadata;
  for (const key of withdrawalOrder(name, wrote)) {
    try {
      await dest.delete(key);
    } catch (error) {
      log(
        key === metadata ? "error" : "warn",
        key === metadata
          ? `could not remove ${key}: Velero may list backup ${name} from ${dest.location} although its export did not verify`
          : `could not remove ${key} of the failed export`,
        { reason: (error as Error).message },
      );
    }
  }
}

/** An input error raised once writing may have begun cannot claim "nothing was changed" (exit 2): exit 1. */
export function afterWrites(error: unknown): unknown {
  if (!(error instanceof InputError)) return error;
  return new ProblemError(error.code, error.message, {
    ...(error.field === undefined ? {} : { field: error.field }),
    ...(error.fix === undefined ? {} : { fix: error.fix }),
    cause: error,
  });
}

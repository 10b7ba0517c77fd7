// The manifests scope, when the BSL cannot be read directly: each file of the backup from a
// DownloadRequest's signed URL (re-requested when it expired or the transfer broke), and
// velero-backup.json written from the Backup read from the API. No volume data.
import { createHash } from "node:crypto";
import { isKotsBackupError, type ObjectStore, ProblemError } from "@kots-backup/core";
import { backupDocument, type DownloadedObject } from "@kots-backup/core/export/plan";
import type { VeleroBackup } from "@kots-backup/core/velero";
import { DownloadUrlExpiredError, type SignedDownload } from "../kube/download-request.ts";
import type { CopyOutcome } from "./copy.ts";
import type { ExportDeps, ExportLog } from "./engine.ts";
import { contentCheckFor, expectedOf, metered, verifyOrRemove } from "./integrity.ts";

/** One file of the manifests scope, from a DownloadRequest URL (re-requested when refused or cut). */
export async function copyFromDownload(
  deps: ExportDeps,
  item: DownloadedObject,
  name: string,
  report: (n: number) => void,
  log: ExportLog,
): Promise<CopyOutcome> {
  const downloads = deps.downloads!;
  const dest = deps.destination;
  const what = `${item.kind} of backup ${name}`;
  const attempts = Math.max(1, deps.downloadAttempts ?? 3);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const url: SignedDownload = await downloads.requestUrl(item.kind, name);
    let counted = 0;
    try {
      const { body, size } = await downloads.open(url, what);
      const meter = metered(body, {
        onBytes: (n) => {
          counted += n;
          report(n);
        },
      });
      const written = await dest.put(item.destKey, meter);
      if (size !== undefined && meter.bytes !== size) {
        await dest.delete(item.destKey).catch(() => {});
        throw new ProblemError("download-truncated", `${what}: received ${meter.bytes} of ${size} bytes`, {
          fix: "re-run the export",
        });
      }
      await verifyOrRemove(dest, item.destKey, expectedOf(written), contentCheckFor(item.destKey, name));
      return { size: written.size, sha256: written.sha256 ?? "", copied: true };
    } catch (error) {
      report(-counted);
      lastError = error;
      const retryable =
        error instanceof DownloadUrlExpiredError ||
        !isKotsBackupError(error) ||
        (error as { code?: string }).code === "download-failed";
      if (!retryable || attempt === attempts) break;
      log(
        "warn",
        `${what}: ${error instanceof DownloadUrlExpiredError ? "the signed URL expired" : "the transfer broke"}; requesting a new URL`,
        {
          attempt,
        },
      );
    }
  }
  if (isKotsBackupError(lastError) && (lastError as { code: string }).code !== "download-url-expired")
    throw lastError;
  if (lastError instanceof DownloadUrlExpiredError) throw lastError;
  throw new ProblemError(
    "download-incomplete",
    `${what}: the download broke off (${(lastError as Error)?.message ?? "unknown"}); nothing was kept`,
    {
      fix: "re-run the export; if it repeats, check the network path to the object store behind the BSL",
    },
  );
}

/** velero-backup.json from the Backup read from the API (Velero's own is the same object), verified. */
export async function writeBackupDocument(
  dest: ObjectStore,
  key: string,
  backup: VeleroBackup,
): Promise<CopyOutcome> {
  const body = Buffer.from(JSON.stringify(backupDocument(backup)));
  const sha256 = createHash("sha256").update(body).digest("hex");
  await dest.put(key, body, { sha256, contentType: "application/json" });
  await verifyOrRemove(dest, key, { sha256, size: body.length }, undefined);
  return { size: body.length, sha256, copied: true };
}

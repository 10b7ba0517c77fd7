// Export requests: `state/exports/<backup>.json`, an export that was asked for (on demand, or one that
// did not fit in a Lambda invocation) and that reconcile continues until it is verified or fails for good.
// Records are written with the same stored-JSON rules as the other state records (bounded reads, shape
// check, conditional writes).
import { EXPORT_REQUESTS_PREFIX, exportRequestKey } from "../export-layout.ts";
import type { ObjectStore } from "../ports.ts";
import { hasOnly, readVersionedJson, writeJsonIf } from "./stored-json.ts";

export type ExportScopeChoice = "auto" | "full" | "manifests";

export interface ExportRequestRecord {
  backup: string;
  scope?: ExportScopeChoice;
  includePartiallyFailed?: boolean;
  schedule?: string;
  requestedAt: string;
  /** Set once a run finished it (verified, or failed for good): reconcile skips it. */
  doneAt?: string;
  outcome?: "exported" | "failed";
}

const isText = (v: unknown) => typeof v === "string";
const isTime = (v: unknown) => typeof v === "string" && !Number.isNaN(Date.parse(v));
const isRequest = (value: unknown): value is ExportRequestRecord =>
  hasOnly(
    value,
    { backup: isText, requestedAt: isTime },
    {
      scope: (v) => v === "auto" || v === "full" || v === "manifests",
      includePartiallyFailed: (v) => typeof v === "boolean",
      schedule: isText,
      doneAt: isTime,
      outcome: (v) => v === "exported" || v === "failed",
    },
  );
const READ_OPTIONS = {
  maxBytes: 16 * 1024,
  fix: (key: string) => `delete ${key}; ask for the export again if it is still wanted`,
};

export async function readExportRequest(
  store: ObjectStore,
  backup: string,
): Promise<ExportRequestRecord | undefined> {
  return (await readVersionedJson(store, exportRequestKey(backup), isRequest, READ_OPTIONS))?.value;
}

/** Records (or replaces) a pending export request. */
export async function recordExportRequest(store: ObjectStore, record: ExportRequestRecord): Promise<void> {
  const current = await readVersionedJson(store, exportRequestKey(record.backup), isRequest, READ_OPTIONS);
  await writeJsonIf(store, exportRequestKey(record.backup), record, current?.etag);
}

/** Marks a pending request (if any) as finished; a concurrent update that got there first stands. */
export async function finishExportRequest(
  store: ObjectStore,
  backup: string,
  outcome: "exported" | "failed",
  now: Date,
): Promise<void> {
  if (!backup) return;
  const current = await readVersionedJson(store, exportRequestKey(backup), isRequest, READ_OPTIONS);
  if (!current || current.value.doneAt) return;
  const done = { ...current.value, doneAt: now.toISOString(), outcome };
  await writeJsonIf(store, exportRequestKey(backup), done, current.etag);
}

/** Export requests not finished yet, oldest first. */
export async function pendingExportRequests(store: ObjectStore): Promise<ExportRequestRecord[]> {
  const out: ExportRequestRecord[] = [];
  for await (const info of store.list(EXPORT_REQUESTS_PREFIX)) {
    if (!info.key.endsWith(".json")) continue;
    const record = await readExportRequest(store, info.key.slice(EXPORT_REQUESTS_PREFIX.length, -5));
    if (record && !record.doneAt) out.push(record);
  }
  return out.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
}

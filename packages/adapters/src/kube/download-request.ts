// Velero DownloadRequests (kots-velero.md §5.3), as `velero backup download` does: create
// `<backup>-<random>` in Velero's namespace with `spec.target {kind, name}`, poll until
// `status.downloadURL` is set (Velero signs it for 10 minutes), then GET it. The request is never
// deleted: Velero garbage-collects expired ones. The URL is a bearer credential: it is never logged
// and never put in an error message.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { EnvironmentError, ProblemError } from "@kots-backup/core";
import { sleep as defaultSleep } from "../retry.ts";
import type { CustomResource, KubeApi } from "./api.ts";

export const VELERO_DOWNLOAD_REQUESTS: CustomResource = {
  group: "velero.io",
  version: "v1",
  plural: "downloadrequests",
};

export type DownloadTargetKind = "BackupContents" | "BackupLog" | "BackupResults" | "BackupResourceList";

export interface SignedDownload {
  url: string;
  /** RFC 3339, as Velero set it (Velero's clock). */
  expiration?: string;
}

/** What the export engine needs for the manifests scope: a fresh signed URL, and a way to read it. */
export interface DownloadSource {
  /** Creates a DownloadRequest and waits for its URL. */
  requestUrl(kind: DownloadTargetKind, backup: string): Promise<SignedDownload>;
  /** GETs a signed URL; throws DownloadUrlExpiredError on 403 (expired or refused), DownloadFailedError otherwise. */
  open(download: SignedDownload, what: string): Promise<{ body: Readable; size?: number }>;
}

/** The signed URL was refused with 403: expired (Velero signs for 10 minutes) or revoked. Re-request. */
export class DownloadUrlExpiredError extends EnvironmentError {
  constructor(what: string) {
    super(
      "download-url-expired",
      `the signed URL for ${what} was refused (403): it expired or its signature no longer holds`,
      {
        fix: "request a new one (kots-backup does this by itself a few times)",
      },
    );
    this.name = "DownloadUrlExpiredError";
  }
}

export class DownloadFailedError extends EnvironmentError {
  constructor(what: string, detail: string, options: { cause?: unknown } = {}) {
    super("download-failed", `downloading ${what} from Velero's signed URL failed: ${detail}`, {
      ...options,
      fix: "check that the object store behind the BSL is reachable from here (in-cluster MinIO or local-volume-provider URLs are not), or export with scope full and BSL credentials",
    });
    this.name = "DownloadFailedError";
  }
}

export interface KubeDownloadSourceOptions {
  /** Give up waiting for `status.downloadURL` after this long (default 60 s, as the velero CLI). */
  timeoutMs?: number;
  /** Poll interval (default 250 ms). */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** For tests: a fetch to use. */
  fetch?: typeof fetch;
}

interface DownloadRequestObject {
  metadata?: { name?: string };
  status?: { phase?: string; downloadURL?: string; expiration?: string };
}

export class KubeDownloadSource implements DownloadSource {
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #options: KubeDownloadSourceOptions;

  constructor(api: KubeApi, veleroNamespace: string, options: KubeDownloadSourceOptions = {}) {
    this.#api = api;
    this.#namespace = veleroNamespace;
    this.#options = options;
  }

  async requestUrl(kind: DownloadTargetKind, backup: string): Promise<SignedDownload> {
    const name = `${backup.slice(0, 200)}-${randomBytes(4).toString("hex")}`;
    const body = {
      apiVersion: "velero.io/v1",
      kind: "DownloadRequest",
      metadata: { name, namespace: this.#namespace },
      spec: { target: { kind, name: backup } },
    };
    await this.#api.createCustom(VELERO_DOWNLOAD_REQUESTS, this.#namespace, body, {
      verb: "create",
      resource: "downloadrequests.velero.io",
      namespace: this.#namespace,
      name,
      idempotent: false,
    });
    const timeoutMs = this.#options.timeoutMs ?? 60_000;
    const wait = this.#options.sleep ?? defaultSleep;
    const started = Date.now();
    for (;;) {
      const current = await this.#api.getCustom<DownloadRequestObject>(
        VELERO_DOWNLOAD_REQUESTS,
        this.#namespace,
        name,
      );
      const url = current?.status?.downloadURL;
      if (url)
        return { url, ...(current?.status?.expiration ? { expiration: current.status.expiration } : {}) };
      if (Date.now() - started > timeoutMs) {
        throw new EnvironmentError(
          "download-request-timeout",
          `Velero did not process DownloadRequest ${name} (${kind} of backup ${backup}) in namespace ${this.#namespace} within ${Math.round(timeoutMs / 1000)}s`,
          {
            fix: "check that the Velero pod is running and that the backup and its BackupStorageLocation exist (velero backup describe)",
          },
        );
      }
      await wait(this.#options.pollMs ?? 250);
    }
  }

  async open(download: SignedDownload, what: string): Promise<{ body: Readable; size?: number }> {
    return openSignedUrl(download, what, this.#options.fetch ?? fetch);
  }
}

/** GETs a signed URL as a stream. The URL (a credential) never appears in errors. */
export async function openSignedUrl(
  download: SignedDownload,
  what: string,
  fetchImpl: typeof fetch = fetch,
): Promise<{ body: Readable; size?: number }> {
  let response: Response;
  try {
    response = await fetchImpl(download.url, { redirect: "follow" });
  } catch (error) {
    throw new DownloadFailedError(
      what,
      `no answer (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name})`,
    );
  }
  if (response.status === 403) {
    await response.body?.cancel();
    throw new DownloadUrlExpiredError(what);
  }
  if (response.status === 404) {
    await response.body?.cancel();
    throw new ProblemError(
      "download-not-found",
      `${what} does not exist in the backup storage location (404)`,
      {
        fix: "the backup's objects are missing from object storage; check the BSL (velero backup describe --details)",
      },
    );
  }
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel();
    throw new DownloadFailedError(what, `HTTP ${response.status}`);
  }
  const length = Number(response.headers.get("content-length"));
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  return Number.isFinite(length) && length >= 0 && response.headers.has("content-length")
    ? { body, size: length }
    : { body };
}

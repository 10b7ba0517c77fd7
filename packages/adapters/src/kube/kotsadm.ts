// kotsadm's HTTP API, reached like `kubectl kots` does: a port-forward to the `app=kotsadm` pod's
// port 3000 and `Authorization: <value of Secret kotsadm-authstring>` (the whole "Kots …" string).
// The auth string is held in a Secret wrapper and scrubbed from anything kotsadm echoes back.
//
// Retries: GETs are retried on 429/5xx/broken connections. A backup POST is never retried here: a
// dropped or failed answer is reported as `backup-request-uncertain` and the caller looks for the
// Backup before asking again (usecases/run-backup.ts).
import { Readable } from "node:stream";
import { EnvironmentError, InputError } from "@kots-backup/core";
import {
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  type RetryPolicy,
  withRetry,
} from "../retry.ts";
import { redact, Secret } from "../secrets/secret.ts";
import type { KubeApi } from "./api.ts";
import { openPortForward, type PortForwardHandle } from "./portforward.ts";

export const KOTSADM_PORT = 3000;
/** Port-forward failures that another try will not fix. */
const TUNNEL_REFUSALS = new Set(["kube-forbidden", "kube-unauthorized", "tls-refused", "kube-not-found"]);
export const AUTHSTRING_SECRET = "kotsadm-authstring";

export interface KotsApp {
  id: string;
  slug: string;
  name?: string;
}

/** kotsadm answered, but not with success. */
export class KotsadmError extends EnvironmentError {
  readonly status: number;
  constructor(code: string, message: string, status: number, fix: string) {
    super(code, message, { fix });
    this.name = "KotsadmError";
    this.status = status;
  }
}

/** The backup POST's outcome is unknown (dropped connection, 5xx): the Backup may or may not exist. */
export class BackupRequestUncertainError extends EnvironmentError {
  readonly uncertain = true;
  constructor(message: string, cause: unknown) {
    super("backup-request-uncertain", message, {
      cause,
      fix: "kots-backup looks for the Backup before asking again; if this persists, check the kotsadm pod's logs",
    });
    this.name = "BackupRequestUncertainError";
  }
}

export interface KotsadmClientOptions {
  api: KubeApi;
  namespace: string;
  pod: string;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  /** Default: a port-forward through the Kubernetes API. Tests may point straight at an HTTP server. */
  endpoint?: () => Promise<PortForwardHandle>;
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** Reads the auth string the way `kubectl kots` does; never logged. Missing → EnvironmentError. */
export async function readAuthString(api: KubeApi, namespace: string): Promise<Secret> {
  const secret = await api.getSecret(namespace, AUTHSTRING_SECRET);
  const encoded = secret?.data?.[AUTHSTRING_SECRET];
  if (!secret || !encoded) {
    throw new EnvironmentError(
      "kotsadm-authstring-missing",
      `Secret ${AUTHSTRING_SECRET} (key ${AUTHSTRING_SECRET}) not found in namespace ${namespace}`,
      {
        fix: `run \`kubectl kots get apps -n ${namespace}\` once (the kots CLI creates the secret), or check that kotsadm runs in ${namespace} (cluster.kotsadmNamespace)`,
      },
    );
  }
  return new Secret(
    Buffer.from(encoded, "base64").toString("utf8"),
    `secret ${namespace}/${AUTHSTRING_SECRET}`,
  );
}

export class KotsadmClient {
  readonly namespace: string;
  readonly pod: string;
  readonly #api: KubeApi;
  readonly #options: KotsadmClientOptions;
  #auth: Secret | undefined;
  #endpoint: Promise<PortForwardHandle> | undefined;

  constructor(options: KotsadmClientOptions) {
    this.#api = options.api;
    this.namespace = options.namespace;
    this.pod = options.pod;
    this.#options = options;
  }

  async #authString(): Promise<Secret> {
    this.#auth ??= await readAuthString(this.#api, this.namespace);
    return this.#auth;
  }

  #open(): Promise<PortForwardHandle> {
    this.#endpoint ??= (
      this.#options.endpoint ??
      (() => openPortForward(this.#api.connection, this.namespace, this.pod, KOTSADM_PORT))
    )();
    return this.#endpoint;
  }

  async close(): Promise<void> {
    const endpoint = this.#endpoint;
    this.#endpoint = undefined;
    if (endpoint) await (await endpoint).close();
  }

  #scrub(text: string): string {
    return this.#auth ? redact(text, [this.#auth]) : text;
  }

  /** One HTTP exchange; transport failures become a KubeApiError/EnvironmentError naming the tunnel. */
  async #send(method: string, path: string): Promise<{ response: Response; endpoint: PortForwardHandle }> {
    const auth = await this.#authString();
    const endpoint = await this.#open();
    try {
      const response = await fetch(`${endpoint.baseUrl}${path}`, {
        method,
        headers: { Authorization: auth.reveal(), Accept: "application/json" },
      });
      return { response, endpoint };
    } catch (error) {
      const tunnel = endpoint.lastError();
      if (tunnel && TUNNEL_REFUSALS.has(tunnel.code)) throw tunnel;
      throw new KotsadmTransportError(
        `no answer from kotsadm (${method} ${path}) through the port-forward to pod ${this.pod} in namespace ${this.namespace}: ${tunnel?.message ?? networkErrorCode(error) ?? (error as Error).message}`,
        error,
      );
    }
  }

  async #exchange(method: string, path: string): Promise<HttpAnswer> {
    const { response } = await this.#send(method, path);
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** A GET, retried on 429/5xx/broken connections. */
  #get(path: string): Promise<HttpAnswer> {
    return withRetry(
      async () => {
        const answer = await this.#exchange("GET", path);
        if (isRetryableStatus(answer.status)) throw new RetryableAnswer(answer);
        return answer;
      },
      {
        classify: (error) => {
          if (error instanceof RetryableAnswer) {
            const after =
              error.answer.status === 429
                ? parseRetryAfter(error.answer.headers.get("retry-after"))
                : undefined;
            return {
              retry: true,
              reason: `HTTP ${error.answer.status}`,
              ...(after === undefined ? {} : { retryAfterMs: after }),
            };
          }
          if (error instanceof KotsadmTransportError) return { retry: true, reason: "transport" };
          return { retry: false };
        },
        ...(this.#options.retry ? { policy: this.#options.retry } : {}),
        ...(this.#options.sleep ? { sleep: this.#options.sleep } : {}),
      },
    ).catch((error: unknown) => {
      if (error instanceof RetryableAnswer) return error.answer;
      throw error;
    });
  }

  #refusal(answer: HttpAnswer, what: string, extra: { app?: string } = {}): EnvironmentError {
    let body: { error?: unknown; kotsadmRequiresVeleroAccess?: unknown; kotsadmNamespace?: unknown } = {};
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      body = {};
    }
    const said =
      typeof body.error === "string" && body.error ? `: ${this.#scrub(body.error).slice(0, 300)}` : "";
    if (answer.status === 409 && body.kotsadmRequiresVeleroAccess === true) {
      return new KotsadmError(
        "kotsadm-requires-velero-access",
        `kotsadm in namespace ${this.namespace} refused ${what} (409): it has no access to Velero's namespace${said}`,
        409,
        `run \`kubectl kots velero ensure-permissions --namespace ${this.namespace} --velero-namespace <velero-namespace>\``,
      );
    }
    if (answer.status === 401) {
      return new KotsadmError(
        "kotsadm-unauthorized",
        `kotsadm in namespace ${this.namespace} refused the ${AUTHSTRING_SECRET} credentials (401) on ${what}`,
        401,
        `check that Secret ${AUTHSTRING_SECRET} in ${this.namespace} is the one kotsadm reads (restart the kotsadm pod after replacing it)`,
      );
    }
    if (answer.status === 403 && extra.app !== undefined) {
      return new KotsadmError(
        "partial-backup-forbidden",
        `kotsadm refused a partial backup of app ${extra.app} (403): partial (app) backups are not available on this installation (embedded cluster)${said}`,
        403,
        "take a full backup instead (--type full)",
      );
    }
    if (answer.status === 403) {
      return new KotsadmError(
        "kotsadm-forbidden",
        `kotsadm in namespace ${this.namespace} refused ${what} (403)${said}`,
        403,
        "check the kotsadm RBAC policy for snapshots (BackupWrite)",
      );
    }
    return new KotsadmError(
      "kotsadm-error",
      `kotsadm in namespace ${this.namespace} answered ${answer.status} to ${what}${said}`,
      answer.status,
      "check the kotsadm pod's logs (kubectl logs -l app=kotsadm)",
    );
  }

  /** `GET /api/v1/apps`: the apps this kotsadm manages. */
  async listApps(): Promise<KotsApp[]> {
    const answer = await this.#get("/api/v1/apps");
    if (answer.status !== 200) throw this.#refusal(answer, "GET /api/v1/apps");
    let body: { apps?: Array<{ id?: unknown; slug?: unknown; name?: unknown }> | null };
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch (error) {
      throw new EnvironmentError("kotsadm-bad-answer", "kotsadm's GET /api/v1/apps answer is not JSON", {
        cause: error,
        fix: "check that the port-forward reaches kotsadm (pod app=kotsadm, port 3000)",
      });
    }
    return (body.apps ?? [])
      .filter((a) => typeof a.slug === "string" && typeof a.id === "string")
      .map((a) => ({
        id: a.id as string,
        slug: a.slug as string,
        ...(typeof a.name === "string" ? { name: a.name } : {}),
      }));
  }

  /** The app with this slug, or an InputError (exit 2) listing the slugs that exist. */
  async resolveApp(slug: string, field = "--app"): Promise<KotsApp> {
    const apps = await this.listApps();
    const app = apps.find((a) => a.slug === slug);
    if (!app) {
      throw new InputError(
        "unknown-app",
        `${field}: kotsadm in namespace ${this.namespace} has no app "${slug}" (apps: ${apps.map((a) => a.slug).join(", ") || "none"})`,
        { field, fix: "use one of the listed app slugs (kubectl kots get apps)" },
      );
    }
    return app;
  }

  async #post(path: string, what: string, extra: { app?: string } = {}): Promise<HttpAnswer> {
    let answer: HttpAnswer;
    try {
      answer = await this.#exchange("POST", path);
    } catch (error) {
      if (error instanceof KotsadmTransportError) {
        throw new BackupRequestUncertainError(`${what}: ${error.message}`, error);
      }
      throw error;
    }
    if (answer.status >= 500 || answer.status === 429) {
      throw new BackupRequestUncertainError(
        `${what}: kotsadm answered ${answer.status}; the backup may or may not have been created`,
        this.#refusal(answer, what, extra),
      );
    }
    if (answer.status !== 200) throw this.#refusal(answer, what, extra);
    return answer;
  }

  /** `POST /api/v1/snapshot/backup` (instance, "full"): kotsadm answers the new Backup's name. */
  async requestInstanceBackup(): Promise<{ backupName?: string }> {
    const answer = await this.#post("/api/v1/snapshot/backup", "POST /api/v1/snapshot/backup");
    let body: { success?: unknown; backupName?: unknown; error?: unknown } = {};
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      body = {};
    }
    if (body.success === false) {
      throw new KotsadmError(
        "kotsadm-error",
        `kotsadm did not start the backup: ${this.#scrub(String(body.error ?? "no reason given")).slice(0, 300)}`,
        answer.status,
        "check the kotsadm pod's logs (kubectl logs -l app=kotsadm)",
      );
    }
    return typeof body.backupName === "string" && body.backupName ? { backupName: body.backupName } : {};
  }

  /** `POST /api/v1/app/{slug}/snapshot/backup` (app, "partial"): the answer carries no name. */
  async requestAppBackup(slug: string): Promise<void> {
    const path = `/api/v1/app/${encodeURIComponent(slug)}/snapshot/backup`;
    const answer = await this.#post(path, `POST ${path}`, { app: slug });
    try {
      const body = JSON.parse(answer.text) as { success?: unknown; error?: unknown };
      if (body.success === false) {
        throw new KotsadmError(
          "kotsadm-error",
          `kotsadm did not start the backup of ${slug}: ${this.#scrub(String(body.error ?? "no reason given")).slice(0, 300)}`,
          answer.status,
          "check the kotsadm pod's logs (kubectl logs -l app=kotsadm)",
        );
      }
    } catch (error) {
      if (error instanceof KotsadmError) throw error;
    }
  }

  /**
   * `GET /api/v1/download?slug=` as `kubectl kots download` does: the app's archive as a stream.
   * kotsadm answers a bad auth string with an empty 200, so an empty body is an EnvironmentError.
   */
  async download(slug: string): Promise<Readable> {
    const path = `/api/v1/download?slug=${encodeURIComponent(slug)}`;
    const { response } = await withRetry(
      async () => {
        const sent = await this.#send("GET", path);
        if (isRetryableStatus(sent.response.status)) {
          const text = await sent.response.text();
          throw new RetryableAnswer({ status: sent.response.status, headers: sent.response.headers, text });
        }
        return sent;
      },
      {
        classify: (error) =>
          error instanceof RetryableAnswer || error instanceof KotsadmTransportError
            ? { retry: true }
            : { retry: false },
        ...(this.#options.retry ? { policy: this.#options.retry } : {}),
        ...(this.#options.sleep ? { sleep: this.#options.sleep } : {}),
      },
    ).catch((error: unknown) => {
      if (error instanceof RetryableAnswer) throw this.#refusal(error.answer, `GET ${path}`);
      throw error;
    });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new InputError("unknown-app", `--app: kotsadm has no app "${slug}" to download`, {
        field: "--app",
        fix: "use one of the app slugs kubectl kots get apps lists",
      });
    }
    if (response.status !== 200) {
      throw this.#refusal(
        { status: response.status, headers: response.headers, text: await response.text() },
        `GET ${path}`,
      );
    }
    if (!response.body) throw emptyDownload(this.namespace);
    const reader = response.body.getReader();
    const first = await reader.read();
    if (first.done || first.value.byteLength === 0) {
      await reader.cancel();
      throw emptyDownload(this.namespace);
    }
    async function* rest(): AsyncGenerator<Uint8Array> {
      yield first.value as Uint8Array;
      for (;;) {
        const next = await reader.read();
        if (next.done) return;
        yield next.value;
      }
    }
    return Readable.from(rest());
  }
}

function emptyDownload(namespace: string): EnvironmentError {
  return new EnvironmentError(
    "kotsadm-download-empty",
    `kotsadm in namespace ${namespace} answered the download with an empty archive: it did not accept the ${AUTHSTRING_SECRET} credentials`,
    {
      fix: `check that Secret ${AUTHSTRING_SECRET} in ${namespace} is the one kotsadm reads (restart the kotsadm pod after replacing it)`,
    },
  );
}

class KotsadmTransportError extends EnvironmentError {
  constructor(message: string, cause: unknown) {
    super("kotsadm-unreachable", message, {
      cause,
      fix: "check that the kotsadm pod is Running and that port-forwarding to it works (kubectl port-forward)",
    });
    this.name = "KotsadmTransportError";
  }
}

class RetryableAnswer extends Error {
  readonly answer: HttpAnswer;
  constructor(answer: HttpAnswer) {
    super(`HTTP ${answer.status}`);
    this.answer = answer;
  }
}

// One place that turns what @kubernetes/client-node throws into the product's errors
// (docs/contract.md §2, exit 3), naming what was asked, where, and the fix. Raw response bodies are never
// copied into messages beyond the Kubernetes Status `message` (which the API server writes, not us).
import { EnvironmentError, type KotsBackupErrorOptions } from "@kots-backup/core";
import {
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  type RetryDecision,
  TRANSIENT_NETWORK_CODES,
} from "../retry.ts";

/** What a Kubernetes call was doing, for messages: `list backups.velero.io in namespace velero`. */
export interface KubeOperation {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";
  /** `pods`, `secrets`, `deployments.apps`, `backups.velero.io`, `pods/portforward`. */
  resource: string;
  /** Omitted for cluster-wide calls. */
  namespace?: string;
  name?: string;
  /** Whether repeating the call is harmless (reads, and writes that are idempotent by construction). */
  idempotent?: boolean;
}

export const RBAC_FIX =
  "apply deploy/rbac.yaml (kubectl apply -f deploy/rbac.yaml) for the identity kots-backup uses";

export function describeOperation(op: KubeOperation): string {
  const where = op.namespace ? `in namespace ${op.namespace}` : "cluster-wide";
  return `${op.verb} ${op.resource}${op.name ? ` ${op.name}` : ""} ${where}`;
}

/** An error from the Kubernetes API, with its HTTP status when there was one. */
export class KubeApiError extends EnvironmentError {
  readonly status?: number;
  /** The Kubernetes Status reason (`NotFound`, `AlreadyExists`, `Invalid`, …) when known. */
  readonly reason?: string;
  readonly operation: KubeOperation;
  constructor(
    code: string,
    message: string,
    operation: KubeOperation,
    options: KotsBackupErrorOptions & { status?: number; reason?: string } = {},
  ) {
    super(code, message, options);
    this.name = "KubeApiError";
    this.operation = operation;
    if (options.status !== undefined) this.status = options.status;
    if (options.reason !== undefined) this.reason = options.reason;
  }
}

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);

interface HttpFailure {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/** The HTTP status of a client-node error: ApiException `code`, or a Watch error's `statusCode`. */
function httpFailure(error: unknown): HttpFailure | undefined {
  if (!error || typeof error !== "object") return undefined;
  const e = error as { code?: unknown; statusCode?: unknown; body?: unknown; headers?: unknown };
  const status =
    typeof e.code === "number" ? e.code : typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (status === undefined) return undefined;
  const failure: HttpFailure = { status };
  if (typeof e.body === "string") failure.body = e.body;
  else if (e.body && typeof e.body === "object") failure.body = JSON.stringify(e.body);
  if (e.headers && typeof e.headers === "object") failure.headers = e.headers as Record<string, string>;
  return failure;
}

function statusOf(body: string | undefined): { reason?: string; message?: string } {
  if (!body) return {};
  try {
    const parsed = JSON.parse(body) as { reason?: unknown; message?: unknown };
    return {
      ...(typeof parsed.reason === "string" ? { reason: parsed.reason } : {}),
      ...(typeof parsed.message === "string" ? { message: parsed.message } : {}),
    };
  } catch {
    return {};
  }
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** Whether a failed call may be repeated: 429 (with its Retry-After), 5xx and broken connections, for idempotent calls only. */
export function classifyKubeFailure(error: unknown, op: KubeOperation): RetryDecision {
  if (op.idempotent === false) return { retry: false };
  const cause = error instanceof KubeApiError ? error.cause : error;
  const http = httpFailure(cause);
  if (http) {
    if (!isRetryableStatus(http.status)) return { retry: false };
    const retryAfterMs =
      http.status === 429 ? parseRetryAfter(headerValue(http.headers, "retry-after")) : undefined;
    return {
      retry: true,
      reason: `HTTP ${http.status}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  const code = networkErrorCode(cause);
  if (code && TRANSIENT_NETWORK_CODES.has(code)) return { retry: true, reason: code };
  return { retry: false };
}

/** Maps anything client-node throws to a KubeApiError (idempotent: returns a KubeApiError unchanged). */
export function mapKubeError(error: unknown, op: KubeOperation, server: string): KubeApiError {
  if (error instanceof KubeApiError) return error;
  const what = describeOperation(op);
  const http = httpFailure(error);
  if (http) {
    const status = statusOf(http.body);
    const options = {
      cause: error,
      status: http.status,
      ...(status.reason === undefined ? {} : { reason: status.reason }),
    };
    const detail = status.message ? `: ${status.message}` : "";
    switch (http.status) {
      case 401:
        return new KubeApiError(
          "kube-unauthorized",
          `the Kubernetes API at ${server} rejected kots-backup's credentials (401) on ${what}`,
          op,
          {
            ...options,
            fix: "refresh the kubeconfig credentials or the token (an EKS token is re-signed per run)",
          },
        );
      case 403:
        return new KubeApiError(
          "kube-forbidden",
          `missing Kubernetes permission: ${op.verb} ${op.resource} ${op.namespace ? `in namespace ${op.namespace}` : "cluster-wide"}`,
          op,
          { ...options, fix: RBAC_FIX },
        );
      case 404:
        return new KubeApiError("kube-not-found", `not found: ${what}${detail}`, op, {
          ...options,
          fix: "check the namespace and name (cluster.kotsadmNamespace, cluster.veleroNamespace)",
        });
      case 409:
        return new KubeApiError("kube-conflict", `conflict on ${what}${detail}`, op, options);
      case 422:
        return new KubeApiError(
          "kube-invalid",
          `the Kubernetes API refused ${what} as invalid${detail}`,
          op,
          options,
        );
      case 429:
        return new KubeApiError(
          "kube-throttled",
          `the Kubernetes API at ${server} kept throttling ${what} (429)`,
          op,
          {
            ...options,
            fix: "retry later; the API server is overloaded or kots-backup's flow-control priority is too low",
          },
        );
      default:
        return new KubeApiError(
          http.status >= 500 ? "kube-unavailable" : "kube-error",
          `the Kubernetes API at ${server} answered ${http.status} on ${what}${detail}`,
          op,
          {
            ...options,
            fix: "check the API server's health; kots-backup retried transient failures already",
          },
        );
    }
  }
  const code = networkErrorCode(error);
  if (code && TLS_CODES.has(code)) {
    return new KubeApiError(
      "tls-refused",
      `TLS to the Kubernetes API at ${server} was refused: ${code === "ERR_TLS_CERT_ALTNAME_INVALID" ? "the certificate does not name this host" : "unknown or untrusted CA"} (${code})`,
      op,
      {
        cause: error,
        fix: "trust the cluster's CA: set certificate-authority(-data) in the kubeconfig, or caData/caFile in the connection settings",
      },
    );
  }
  if (code) {
    return new KubeApiError(
      "cluster-unreachable",
      `cannot reach the Kubernetes API at ${server} (${code}) on ${what}`,
      op,
      {
        cause: error,
        fix: "check the server URL in the kubeconfig, the network path (VPN, security groups) and that the cluster is up",
      },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/HTTP protocol is not allowed/.test(message)) {
    return new KubeApiError("tls-required", `the kubeconfig server ${server} is plain http`, op, {
      cause: error,
      fix: "use the https:// URL of the API server",
    });
  }
  return new KubeApiError("kube-error", `Kubernetes call failed: ${what}: ${message}`, op, {
    cause: error,
    fix: "check the kubeconfig and the cluster",
  });
}

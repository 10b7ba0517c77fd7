// How kots-backup's requests reach the Kubernetes API server: node:http(s), with the TLS settings,
// credentials (token, client certificate, exec plugin, the EKS signer…), proxy and agent that
// client-node's KubeConfig puts on request options (`applyToHTTPSOptions`: what client-node itself uses
// for its WebSocket port-forward and exec). client-node's generated clients and its Watch go through
// the private copy of undici it bundles instead (~0.74 MB of a Lambda bundle to load at every cold start,
// which this keeps out of the functions: infra/bundling.ts); the timeouts are undici's defaults, which
// those had: 10 s to connect, 300 s without a byte.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import http from "node:http";
import https from "node:https";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import clientNodePackage from "@kubernetes/client-node/package.json" with { type: "json" };

export const CONNECT_TIMEOUT_MS = 10_000;
export const IDLE_TIMEOUT_MS = 300_000;
/** What client-node's generated clients send as User-Agent. */
const USER_AGENT = `kubernetes-client-javascript/${clientNodePackage.version}`;

export type KubeQuery = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path under the cluster's server URL, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  /** Query parameters; undefined ones are left out. */
  query?: KubeQuery;
  /** Sent as JSON. */
  body?: unknown;
  /** Cut the exchange after this long without a byte either way (default IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** The error an idle exchange fails with (default: a `ETIMEDOUT` error). */
  idleError?: () => Error;
  /** Aborting cuts the exchange with the signal's reason. */
  signal?: AbortSignal;
  /** The body is read as it comes (a watch), not with readText: asked uncompressed. */
  streaming?: boolean;
}

export interface KubeExchange {
  response: IncomingMessage;
  /** Why the exchange was cut (idle, connect timeout, abort) once it was: the response then fails with a bare ECONNRESET. */
  cutReason(): unknown;
}

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: "ETIMEDOUT" });
}

/** The response headers as one string per name (repeated headers joined by ", ", as fetch does). */
export function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/**
 * Sends one request to the current cluster of `kubeConfig`, authenticated and with its TLS settings.
 * Resolves once the response headers arrived (any status); rejects when there was no answer.
 */
export async function openKubeRequest(kubeConfig: KubeConfig, request: KubeRequest): Promise<KubeExchange> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error("No active cluster!");
  const url = new URL(`${cluster.server}${request.path}`);
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const headers: Record<string, string> = {
    Accept: "application/json, */*;q=0.8",
    // As fetch asks (readText decompresses): the API server compresses large answers such as lists.
    ...(request.streaming ? {} : { "Accept-Encoding": "gzip, deflate, br" }),
    "User-Agent": USER_AGENT,
    ...(payload === undefined
      ? {}
      : { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(payload)) }),
  };
  const options: https.RequestOptions = { method: request.method, headers };
  // TLS (ca, client certificate, servername, rejectUnauthorized), Authorization and impersonation
  // headers, basic auth, and the agent (https, or the cluster's proxy).
  await kubeConfig.applyToHTTPSOptions(options);
  const transport = url.protocol === "http:" ? http : https;
  let cut: unknown;
  return new Promise<KubeExchange>((resolve, reject) => {
    const req = transport.request(url, options, (response) => {
      // The response may fail before the caller gets to it (a connection closed in the same tick):
      // kept in `response.errored` for readText and the watch, never an uncaught 'error'.
      response.on("error", () => {});
      resolve({ response, cutReason: () => cut });
    });
    const cutWith = (reason: unknown) => {
      cut ??= reason;
      req.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    };
    req.on("error", (error) => reject(cut ?? error));
    req.on("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(
        () => cutWith(timeoutError(`connecting to ${url.host} timed out`)),
        CONNECT_TIMEOUT_MS,
      );
      socket.once(url.protocol === "http:" ? "connect" : "secureConnect", () => clearTimeout(timer));
      socket.once("close", () => clearTimeout(timer));
    });
    req.setTimeout(request.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () =>
      cutWith(request.idleError?.() ?? timeoutError(`the API server at ${url.host} stopped answering`)),
    );
    const signal = request.signal;
    if (signal) {
      const onAbort = () => cutWith(signal.reason);
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        req.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    req.end(payload);
  });
}

/** Reads a response body as text (decompressed); fails with the exchange's cut reason when it was cut. */
export async function readText(exchange: KubeExchange): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of exchange.response) chunks.push(chunk as Buffer);
  } catch (error) {
    throw exchange.cutReason() ?? error;
  }
  const body = Buffer.concat(chunks);
  switch (exchange.response.headers["content-encoding"]?.trim().toLowerCase()) {
    case "gzip":
      return gunzipSync(body).toString("utf8");
    case "deflate":
      return inflateSync(body).toString("utf8");
    case "br":
      return brotliDecompressSync(body).toString("utf8");
    default:
      return body.toString("utf8");
  }
}

// A fault-injecting HTTP proxy in front of the S3 peer (moto), on 127.0.0.1. Requests are forwarded
// verbatim — method, path, query, headers (the Host header included, so the SigV4 signature the client
// computed for the proxy's host stays the one the upstream receives) and body — and the answer comes
// back as it is. Scripted rules pick requests by method, query and headers (e.g. `?partNumber=` without
// `x-amz-copy-source` is UploadPart) and answer them with an S3 XML error (503 SlowDown, 500
// InternalError) without forwarding, or after forwarding (the work done, its answer lost), or hold them
// unanswered (to crash a client at that exact point).
// Nothing here prints a header: the Authorization header carries the access key id.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PassThrough, Transform } from "node:stream";

/** Which requests a rule applies to. Every given condition must hold. */
export interface S3RequestMatch {
  method?: string;
  /** Tested against the query string (without `?`); a string must be a substring. */
  query?: string | RegExp;
  /** Tested against the path (bucket and key, URL-encoded). */
  path?: string | RegExp;
  /** Header names that must be present (lower case). */
  withHeaders?: string[];
  /** Header names that must be absent (lower case). */
  withoutHeaders?: string[];
}

export interface S3FaultRule {
  match: S3RequestMatch;
  /** Requests the rule applies to; unlimited when omitted. */
  times?: number;
  /** Answer with this status and S3 error code (e.g. 503 SlowDown, 500 InternalError). */
  status?: number;
  code?: string;
  /** Never answer: keep the request open (for a test that kills the client meanwhile). */
  hold?: boolean;
  /** Forward the request (S3 does the work), then lose its answer: the client gets the error instead. */
  afterUpstream?: boolean;
  /**
   * Forward the request with one body byte flipped (same length, headers as signed): data damaged
   * on the way, after the client computed its checksums. Real S3 refuses such a part (BadDigest);
   * moto does not check part checksums and stores it.
   */
  corrupt?: boolean;
}

export interface S3ProxyRequest {
  method: string;
  path: string;
  query: string;
  /** The S3 operation, from method, query and headers. */
  operation: string;
  /** Status sent back; undefined while held or when the connection broke. */
  status?: number;
  /** The rule that answered instead of the upstream. */
  rule?: number;
}

export interface S3FaultProxy {
  /** `http://127.0.0.1:<port>`: the endpoint to give S3 clients. */
  url: string;
  add(rule: S3FaultRule): number;
  remove(id: number): void;
  clear(): void;
  /** Every request, oldest first. */
  readonly requests: readonly S3ProxyRequest[];
  /** Requests a rule answered (or held). */
  hitsOf(id: number): S3ProxyRequest[];
  /** The next request a `hold` rule kept unanswered (each held request is handed out once). */
  nextHold(): Promise<S3ProxyRequest>;
  close(): Promise<void>;
}

/** The S3 operation of a request, enough to tell the write paths apart. */
export function s3Operation(method: string, query: URLSearchParams, headers: IncomingMessage["headers"]) {
  const copy = headers["x-amz-copy-source"] !== undefined;
  if (method === "PUT" && query.has("partNumber")) return copy ? "UploadPartCopy" : "UploadPart";
  if (method === "PUT" && query.has("tagging")) return "PutObjectTagging";
  if (method === "PUT") return copy ? "CopyObject" : "PutObject";
  if (method === "POST" && query.has("uploads")) return "CreateMultipartUpload";
  if (method === "POST" && query.has("uploadId")) return "CompleteMultipartUpload";
  if (method === "POST" && query.has("delete")) return "DeleteObjects";
  if (method === "DELETE" && query.has("uploadId")) return "AbortMultipartUpload";
  if (method === "DELETE") return "DeleteObject";
  if (method === "GET" && query.has("uploads")) return "ListMultipartUploads";
  if (method === "GET" && query.has("list-type")) return "ListObjectsV2";
  if (method === "HEAD") return "HeadObject";
  return method === "GET" ? "GetObject" : method;
}

const MESSAGES: Record<string, string> = {
  SlowDown: "Please reduce your request rate.",
  InternalError: "We encountered an internal error. Please try again.",
  ServiceUnavailable: "Service is unable to handle request.",
};

function s3ErrorBody(code: string, resource: string): string {
  const id = Math.random().toString(16).slice(2, 18).toUpperCase();
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${MESSAGES[code] ?? code}</Message><Resource>${resource}</Resource><RequestId>${id}</RequestId></Error>`;
}

function matches(match: S3RequestMatch, req: IncomingMessage, path: string, query: string): boolean {
  if (match.method && match.method.toUpperCase() !== (req.method ?? "GET").toUpperCase()) return false;
  const test = (cond: string | RegExp | undefined, value: string) =>
    cond === undefined || (typeof cond === "string" ? value.includes(cond) : cond.test(value));
  if (!test(match.query, query) || !test(match.path, path)) return false;
  if (match.withHeaders?.some((h) => req.headers[h] === undefined)) return false;
  if (match.withoutHeaders?.some((h) => req.headers[h] !== undefined)) return false;
  return true;
}

/** Passes a body through with its first byte inverted. */
function flipOneByte(): Transform {
  let flipped = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!flipped && chunk.length > 0) {
        flipped = true;
        const copy = Buffer.from(chunk);
        copy[0] = (copy[0] ?? 0) ^ 0xff;
        callback(null, copy);
        return;
      }
      callback(null, chunk);
    },
  });
}

/** Starts the proxy in front of `upstream` (the moto endpoint). */
export async function startS3FaultProxy(upstream: string): Promise<S3FaultProxy> {
  const target = new URL(upstream);
  const rules = new Map<number, S3FaultRule & { remaining: number }>();
  const requests: S3ProxyRequest[] = [];
  const sockets = new Set<Socket>();
  const held: S3ProxyRequest[] = [];
  const holdWaiters: Array<(r: S3ProxyRequest) => void> = [];
  let nextId = 1;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? "/";
    const at = raw.indexOf("?");
    const path = at === -1 ? raw : raw.slice(0, at);
    const query = at === -1 ? "" : raw.slice(at + 1);
    const method = (req.method ?? "GET").toUpperCase();
    const entry: S3ProxyRequest = {
      method,
      path,
      query,
      operation: s3Operation(method, new URLSearchParams(query), req.headers),
    };
    requests.push(entry);
    for (const [id, rule] of rules) {
      if (rule.remaining <= 0 || !matches(rule.match, req, path, query)) continue;
      rule.remaining -= 1;
      entry.rule = id;
      if (rule.hold) {
        req.resume();
        const wake = holdWaiters.shift();
        if (wake) wake(entry);
        else held.push(entry);
        return;
      }
      const fail = () => {
        const status = rule.status ?? 503;
        const body = s3ErrorBody(rule.code ?? (status === 503 ? "SlowDown" : "InternalError"), path);
        entry.status = status;
        res.writeHead(status, {
          "content-type": "application/xml",
          "content-length": Buffer.byteLength(body),
          "x-amz-request-id": "proxy",
        });
        res.end(body);
      };
      if (rule.corrupt) {
        forward(req, res, raw, method, pass(entry, res), flipOneByte());
        return;
      }
      if (rule.afterUpstream) {
        forward(req, res, raw, method, (upstreamRes) => {
          upstreamRes.resume();
          upstreamRes.on("end", fail);
        });
        return;
      }
      // Read the whole request body first, as S3 does before it answers a throttled upload.
      req.resume();
      req.on("end", fail);
      return;
    }
    forward(req, res, raw, method, pass(entry, res));
  };

  /** Hands the upstream's answer back as it is. */
  const pass = (entry: S3ProxyRequest, res: ServerResponse) => (upstreamRes: IncomingMessage) => {
    entry.status = upstreamRes.statusCode ?? 0;
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
    upstreamRes.pipe(res);
    upstreamRes.on("error", () => res.destroy());
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    raw: string,
    method: string,
    answer: (upstreamRes: IncomingMessage) => void,
    body: Transform = new PassThrough(),
  ) => {
    const headers = { ...req.headers };
    // `Expect: 100-continue` is handled hop by hop here (Node answered it); never signed by SigV4.
    delete headers["expect"];
    const upstreamReq = request(
      { host: target.hostname, port: target.port, method, path: raw, headers },
      answer,
    );
    upstreamReq.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.on("error", () => upstreamReq.destroy());
    req.pipe(body).pipe(upstreamReq);
  };

  const server: Server = createServer(handle);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    add(rule) {
      const id = nextId++;
      rules.set(id, { ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
      return id;
    },
    remove: (id) => {
      rules.delete(id);
    },
    clear: () => rules.clear(),
    requests,
    hitsOf: (id) => requests.filter((r) => r.rule === id),
    nextHold: () =>
      new Promise((resolve) => {
        const first = held.shift();
        if (first) resolve(first);
        else holdWaiters.push(resolve);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

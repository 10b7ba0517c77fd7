// Signed download URLs for the simulated BSL, served by the sandbox over plain HTTP like an
// in-cluster object store (or local-volume-provider): HMAC signature plus an expiry on the sandbox clock.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ObjectStore } from "@kots-backup/core";
import type { SandboxClock } from "../clock.ts";
import { type Faults, sendBody } from "../faults.ts";

/** velero `DownloadURLTTL`. */
export const DOWNLOAD_URL_TTL_MS = 10 * 60 * 1000;

export class SignedUrlServer {
  private readonly secret = randomBytes(32);
  private readonly server: Server;
  private readonly store: ObjectStore;
  private readonly clock: SandboxClock;
  private readonly faults: Faults;
  private readonly bucket: string;
  private baseUrl = "";

  constructor(options: { store: ObjectStore; clock: SandboxClock; faults: Faults; bucket: string }) {
    this.store = options.store;
    this.clock = options.clock;
    this.faults = options.faults;
    this.bucket = options.bucket;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  /** A URL for `key` that stops working `DOWNLOAD_URL_TTL_MS` after now (sandbox clock). */
  sign(key: string): { url: string; expiresMs: number } {
    const expiresMs = this.clock.nowMs() + DOWNLOAD_URL_TTL_MS;
    const expires = Math.floor(expiresMs / 1000);
    const path = `/${this.bucket}/${key}`;
    const signature = this.signature(path, expires);
    return { url: `${this.baseUrl}${encodeURI(path)}?expires=${expires}&signature=${signature}`, expiresMs };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private signature(path: string, expires: number): string {
    return createHmac("sha256", this.secret).update(`${path}\n${expires}`).digest("hex");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fault = await this.faults.apply("download", req, res, (code) => ({ error: `simulated ${code}` }));
    if (fault.handled) return;
    const url = new URL(req.url ?? "/", "http://bsl");
    const path = decodeURI(url.pathname);
    const expires = Number(url.searchParams.get("expires"));
    const given = Buffer.from(url.searchParams.get("signature") ?? "", "hex");
    const expected = Buffer.from(this.signature(path, expires), "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return s3Error(
        res,
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      );
    }
    if (this.clock.nowMs() > expires * 1000) return s3Error(res, 403, "AccessDenied", "Request has expired");
    const key = path.slice(`/${this.bucket}/`.length);
    if (!(await this.store.head(key)))
      return s3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
    const chunks: Buffer[] = [];
    for await (const chunk of await this.store.get(key)) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    // Velero's AWS plugin stores objects without Content-Encoding: the bytes come back as raw gzip.
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
    sendBody(res, body, fault.rule);
  }
}

function s3Error(res: ServerResponse, code: number, s3Code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${s3Code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(code, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

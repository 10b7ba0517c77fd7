// The API transport on a plain local HTTP server (the sandbox's API server covers TLS, credentials,
// RBAC and faults end to end): what it asks for, how answers are read, and how exchanges end.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { afterEach, describe, expect, it } from "vitest";
import { KubeApi, VELERO_BACKUPS } from "./api.ts";
import type { KubeConnection } from "./connection.ts";
import type { KubeApiError } from "./errors.ts";
import { openKubeRequest, readText } from "./transport.ts";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A local API server answering with `handle`, and a KubeConfig (token user) pointing at it. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<KubeConfig> {
  server = createServer(handle);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser(
    { name: "local", server: `http://127.0.0.1:${port}`, skipTLSVerify: true },
    { name: "u", token: "t0ken" },
  );
  return kubeConfig;
}

function api(kubeConfig: KubeConfig, watchIdleMs?: number): KubeApi {
  const connection: KubeConnection = {
    kubeConfig,
    server: kubeConfig.getCurrentCluster()?.server ?? "",
    namespace: "default",
    description: "test",
    insecureSkipTlsVerify: true,
  };
  return new KubeApi(connection, { retry: { maxAttempts: 1 }, ...(watchIdleMs ? { watchIdleMs } : {}) });
}

describe("openKubeRequest", () => {
  it("sends the credentials, JSON and the query, and reads a compressed answer", async () => {
    let seen: { url?: string; headers?: IncomingMessage["headers"]; body?: string } = {};
    const kubeConfig = await serve((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        seen = { url: req.url ?? "", headers: req.headers, body };
        res.writeHead(201, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(gzipSync(JSON.stringify({ kind: "DownloadRequest", ok: true })));
      });
    });
    const exchange = await openKubeRequest(kubeConfig, {
      method: "POST",
      path: "/apis/velero.io/v1/namespaces/velero/downloadrequests",
      query: { limit: 5, continue: undefined, labelSelector: "a=b" },
      body: { spec: { target: "x" } },
    });
    expect(exchange.response.statusCode).toBe(201);
    expect(JSON.parse(await readText(exchange))).toEqual({ kind: "DownloadRequest", ok: true });
    expect(seen.url).toBe(
      "/apis/velero.io/v1/namespaces/velero/downloadrequests?limit=5&labelSelector=a%3Db",
    );
    expect(seen.headers).toMatchObject({
      authorization: "Bearer t0ken",
      accept: "application/json, */*;q=0.8",
      "content-type": "application/json",
      "user-agent": expect.stringMatching(/^kubernetes-client-javascript\//),
    });
    expect(JSON.parse(seen.body ?? "")).toEqual({ spec: { target: "x" } });
  });

  it("cuts an exchange idle for too long with an ETIMEDOUT error (retried as transient)", async () => {
    const kubeConfig = await serve(() => {}); // never answers
    await expect(
      openKubeRequest(kubeConfig, { method: "GET", path: "/api/v1/pods", idleTimeoutMs: 100 }),
    ).rejects.toMatchObject({ code: "ETIMEDOUT" });
  });
});

describe("KubeApi over the transport", () => {
  it("fails a non-2xx answer with client-node's ApiException (status, Status body, headers)", async () => {
    const status = { kind: "Status", reason: "NotFound", message: 'secrets "x" not found' };
    const kubeConfig = await serve((_req, res) => {
      res.writeHead(404, { "content-type": "application/json", "x-request": "r1" });
      res.end(JSON.stringify(status));
    });
    const failure = await api(kubeConfig)
      .request("GET", "/api/v1/namespaces/default/secrets/x")
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiException);
    expect(failure).toMatchObject({ code: 404, headers: { "x-request": "r1" } });
    expect(JSON.parse((failure as ApiException<string>).body)).toEqual(status);
    // and through `call`: the product's error, 404 read as absent by callOptional
    expect(await api(kubeConfig).getSecret("default", "x")).toBeUndefined();
  });

  it("watches: events line by line, a line that is not JSON skipped, the end reported once", async () => {
    let query = "";
    const kubeConfig = await serve((req, res) => {
      query = req.url ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "b1" } } })}\n`);
      res.write("not json\n");
      res.end(`${JSON.stringify({ type: "MODIFIED", object: { metadata: { name: "b1" }, status: {} } })}\n`);
    });
    const events: string[] = [];
    const ends: Array<KubeApiError | undefined> = [];
    await new Promise<void>((resolve) => {
      void api(kubeConfig).watchCustomNamed(
        VELERO_BACKUPS,
        "velero",
        "b1",
        (type) => events.push(type),
        (error) => {
          ends.push(error);
          resolve();
        },
        "42",
      );
    });
    expect(events).toEqual(["ADDED", "MODIFIED"]);
    expect(ends).toEqual([undefined]);
    expect(query).toBe(
      "/apis/velero.io/v1/namespaces/velero/backups?watch=true&fieldSelector=metadata.name%3Db1&allowWatchBookmarks=true&resourceVersion=42",
    );
  });

  it("ends an idle watch with watch-idle", async () => {
    const kubeConfig = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
    });
    const started = Date.now();
    const ended = await new Promise<KubeApiError | undefined>((resolve) => {
      void api(kubeConfig, 300).watchCustomNamed(VELERO_BACKUPS, "velero", "b1", () => {}, resolve);
    });
    expect(ended?.code).toBe("watch-idle");
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("a refused watch ends with the mapped error of its status", async () => {
    const kubeConfig = await serve((_req, res) => {
      res.writeHead(403, { "content-type": "application/json" });
      res.end("{}");
    });
    const ended = await new Promise<KubeApiError | undefined>((resolve) => {
      void api(kubeConfig).watchCustomNamed(VELERO_BACKUPS, "velero", "b1", () => {}, resolve);
    });
    expect(ended).toMatchObject({ code: "kube-forbidden", status: 403 });
  });
});

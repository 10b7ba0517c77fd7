// A local TCP listener on 127.0.0.1:<random> whose every connection is carried to a pod port by its
// own Kubernetes port-forward WebSocket (`pods/portforward`), as `kubectl port-forward` does. HTTP
// clients then talk to `http://127.0.0.1:<port>` as if it were the pod.
import { createServer, type Server, type Socket } from "node:net";
import { type Readable, Writable } from "node:stream";
// client-node's own WebSocket handling (KubeConfig TLS and authentication, channel protocols), from its
// module: the package's PortForward class would also bring in its generated Core/Apps API clients and
// every model class (~1.2 MB of a Lambda bundle) for methods that look pods up, which this never calls.
import { WebSocketHandler } from "@kubernetes/client-node/dist/web-socket-handler.js";
import { networkErrorCode } from "../retry.ts";
import type { KubeConnection } from "./connection.ts";
import { KubeApiError, type KubeOperation, mapKubeError, RBAC_FIX } from "./errors.ts";

export interface PortForwardHandle {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** Why the last tunnel failed (a WebSocket refusal, the pod's error channel), if one did. */
  lastError(): KubeApiError | undefined;
  close(): Promise<void>;
}

/** The HTTP status in a `ws` handshake refusal: "Unexpected server response: 403". */
function handshakeStatus(error: unknown): number | undefined {
  const candidates = [error, (error as { error?: unknown })?.error];
  for (const candidate of candidates) {
    const message = (candidate as { message?: unknown })?.message;
    if (typeof message === "string") {
      const match = /Unexpected server response: (\d{3})/.exec(message);
      if (match) return Number(match[1]);
    }
  }
  return undefined;
}

export function mapPortForwardError(
  error: unknown,
  connection: KubeConnection,
  namespace: string,
  pod: string,
): KubeApiError {
  const op: KubeOperation = { verb: "create", resource: "pods/portforward", namespace, name: pod };
  const status = handshakeStatus(error);
  if (status === 403) {
    return new KubeApiError(
      "kube-forbidden",
      `missing Kubernetes permission: get, create pods/portforward in namespace ${namespace} (port-forward to ${pod})`,
      op,
      { cause: error, status, fix: RBAC_FIX },
    );
  }
  if (status !== undefined) return mapKubeError({ code: status }, op, connection.server);
  const inner = (error as { error?: unknown })?.error ?? error;
  if (networkErrorCode(inner)) return mapKubeError(inner, op, connection.server);
  return new KubeApiError(
    "port-forward-failed",
    `port-forward to pod ${pod}:${"3000"} in namespace ${namespace} failed: ${(inner as Error)?.message ?? String(inner)}`,
    op,
    {
      cause: error,
      fix: "check that the kotsadm pod is Running and the API server allows WebSocket port-forwarding",
    },
  );
}

/**
 * One tunnel to `pod`:`port`, as client-node's `PortForward.portForward` opens it (single port, no
 * reconnection, disconnecting on an unexpected channel): stream 0 carries the data, stream 1 the pod's
 * errors, each prefixed once by the port number.
 */
async function forwardOnce(
  handler: WebSocketHandler,
  namespace: string,
  pod: string,
  port: number,
  output: Writable,
  errors: Writable,
  input: Readable,
) {
  const path = `/api/v1/namespaces/${namespace}/pods/${pod}/portforward?${new URLSearchParams({ ports: String(port) })}`;
  const needsPortNumber = [true, true];
  const ws = await handler.connect(path, null, (stream, data) => {
    if (stream >= 2) return false;
    const chunk = needsPortNumber[stream] ? data.subarray(2) : data;
    needsPortNumber[stream] = false;
    (stream === 1 ? errors : output).write(chunk);
    return true;
  });
  WebSocketHandler.handleStandardInput(ws, input, 0);
  return ws;
}

export async function openPortForward(
  connection: KubeConnection,
  namespace: string,
  pod: string,
  port: number,
): Promise<PortForwardHandle> {
  const handler = new WebSocketHandler(connection.kubeConfig);
  let last: KubeApiError | undefined;
  const sockets = new Set<Socket>();
  const closers = new Set<() => void>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    const errors = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        const text = chunk.toString("utf8").trim();
        if (text) {
          last = new KubeApiError(
            "port-forward-failed",
            `port-forward to pod ${pod}:${port} in namespace ${namespace} failed: ${text}`,
            { verb: "create", resource: "pods/portforward", namespace, name: pod },
            { fix: "check that the kotsadm pod is Running and listening on port 3000" },
          );
        }
        callback();
      },
    });
    forwardOnce(handler, namespace, pod, port, socket, errors, socket)
      .then((ws) => {
        const webSocket = ws as unknown as {
          close(): void;
          addEventListener(type: string, fn: () => void): void;
        };
        const close = () => webSocket.close();
        closers.add(close);
        webSocket.addEventListener("close", () => {
          closers.delete(close);
          socket.end();
        });
        socket.on("close", close);
      })
      .catch((error: unknown) => {
        last = mapPortForwardError(error, connection, namespace, pod);
        socket.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const localPort = typeof address === "object" && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${localPort}`,
    lastError: () => last,
    close: async () => {
      for (const close of closers) close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

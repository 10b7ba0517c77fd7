// `pods/portforward` over WebSocket, as the kubelet speaks it to client-node's PortForward:
// subprotocol v4.channel.k8s.io, binary frames prefixed by a channel byte (0 = data, 1 = error for
// the first port), and a first frame of the 2-byte little-endian port number on both channels.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { ApiServerContext } from "./api-server.ts";
import { authorize } from "./api-server.ts";
import { parseResourcePath } from "./request.ts";
import { StatusError, statusBody } from "./status.ts";

/** Opens a byte stream to `port` inside the pod, or says why it cannot. */
export type PodDialer = (namespace: string, pod: string, port: number) => Duplex | { error: string };

const SUBPROTOCOL = "v4.channel.k8s.io";
const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;

export function createUpgradeHandler(context: ApiServerContext, dial: PodDialer) {
  const forward = portForwardServer();
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let target: { namespace: string; pod: string; port: number };
    try {
      target = admit(context, req);
    } catch (error) {
      refuseUpgrade(socket, error);
      return;
    }
    forward(req, socket, head, target.port, () => dial(target.namespace, target.pod, target.port));
  };
}

/** Answers a refused upgrade with a Kubernetes Status, as the apiserver and the kubelet do. */
export function refuseUpgrade(socket: Duplex, error: unknown): void {
  const status =
    error instanceof StatusError ? error.toStatus() : statusBody(500, "InternalError", String(error));
  const text = JSON.stringify(status);
  socket.end(
    `HTTP/1.1 ${status.code} ${status.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/**
 * The kubelet's side of one forwarded port: upgrades the request, announces the port on both channels,
 * then copies bytes between the WebSocket's data channel and the stream `open` returns.
 */
export function portForwardServer() {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  return (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    port: number,
    open: () => Duplex | { error: string },
  ): void => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      ws.send(Buffer.concat([Buffer.from([DATA_CHANNEL]), portBytes]));
      ws.send(Buffer.concat([Buffer.from([ERROR_CHANNEL]), portBytes]));
      const stream = open();
      if ("error" in stream) {
        ws.send(Buffer.concat([Buffer.from([ERROR_CHANNEL]), Buffer.from(stream.error)]));
        ws.close();
        return;
      }
      stream.on("data", (chunk: Buffer) => {
        if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([DATA_CHANNEL]), chunk]));
      });
      stream.on("end", () => ws.close());
      stream.on("error", () => ws.close());
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        if (!isBinary || data.length === 0 || data[0] !== DATA_CHANNEL) return;
        stream.write(data.subarray(1));
      });
      ws.on("close", () => stream.end());
    });
  };
}

/** The port of a port-forward request (`ports` to the apiserver, `port` to the kubelet): one, 1–65535. */
export function requestedPort(url: URL, parameter: "ports" | "port" = "ports"): number {
  const port = Number(url.searchParams.get(parameter));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new StatusError(400, "BadRequest", `invalid port "${url.searchParams.get(parameter)}"`);
  }
  return port;
}

/** Authentication, RBAC (`get` and `create` on pods/portforward, as from Kubernetes 1.35) and pod checks. */
function admit(
  context: ApiServerContext,
  req: IncomingMessage,
): { namespace: string; pod: string; port: number } {
  const caller = context.auth.authenticate(req);
  const url = new URL(req.url ?? "/", "https://sandbox");
  const request = parseResourcePath(url.pathname);
  if (
    request?.plural !== "pods" ||
    request.subresource !== "portforward" ||
    !request.namespace ||
    !request.name
  ) {
    throw new StatusError(404, "NotFound", "the server could not find the requested resource");
  }
  const base = {
    group: "",
    resource: "pods",
    subresource: "portforward",
    name: request.name,
    namespace: request.namespace,
  };
  authorize(context, caller, { ...base, verb: "get" });
  authorize(context, caller, { ...base, verb: "create" });
  const podType = context.registry.byResource("", "pods");
  const pod = context.state.get(podType, request.namespace, request.name);
  if (pod.status?.phase !== "Running") {
    throw new StatusError(
      400,
      "BadRequest",
      `unable to upgrade connection: pod ${request.name} is not running`,
    );
  }
  return { namespace: request.namespace, pod: request.name, port: requestedPort(url) };
}

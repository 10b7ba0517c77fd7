// A minimal kubelet API for a real kube-apiserver: only `GET /portForward/<namespace>/<pod>?port=<port>`
// on the kubelet's WebSocket protocol (portforward.ts), the one kubelet call kots-backup causes (through
// the apiserver's pods/portforward). The apiserver reaches it as the node's kubelet: a Node whose
// InternalIP is 127.0.0.1 and whose status.daemonEndpoints.kubeletEndpoint.Port is this server's port
// (kube-apiserver --kubelet-preferred-address-types=InternalIP, --kubelet-certificate-authority = the CA
// of `tls`). Loopback and test-only: it does not ask the apiserver for a client certificate.
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { type PodDialer, portForwardServer, refuseUpgrade, requestedPort } from "./portforward.ts";
import { StatusError } from "./status.ts";

export interface Kubelet {
  port: number;
  close(): Promise<void>;
}

export async function startKubelet(
  tls: { certPem: string; keyPem: string },
  dial: PodDialer,
): Promise<Kubelet> {
  const forward = portForwardServer();
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (_req, res) => {
    // exec, attach, logs, metrics: not served.
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("404 page not found\n");
  });
  server.on("upgrade", (req, socket, head) => {
    try {
      const url = new URL(req.url ?? "/", "https://kubelet");
      const route = /^\/portForward\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (!route) throw new StatusError(404, "NotFound", "the server could not find the requested resource");
      const [namespace, pod] = [decodeURIComponent(route[1]!), decodeURIComponent(route[2]!)];
      // The apiserver passes `?ports=` on to the kubelet as `?port=` (one per port).
      const port = requestedPort(url, "port");
      forward(req, socket, head, port, () => dial(namespace, pod, port));
    } catch (error) {
      refuseUpgrade(socket, error);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Test helpers that reach the sandbox the way the product does: through @kubernetes/client-node.

import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { gunzipSync } from "node:zlib";
import * as k8s from "@kubernetes/client-node";
import { extract } from "tar-stream";

export interface KubeClients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  apps: k8s.AppsV1Api;
  authz: k8s.AuthorizationV1Api;
}

export function kubeClients(kubeconfigYaml: string): KubeClients {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfigYaml);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
  };
}

/** `kubectl port-forward` in-process: a local TCP server whose connections go through client-node's PortForward. */
export async function forwardPort(
  kc: k8s.KubeConfig,
  namespace: string,
  pod: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const forward = new k8s.PortForward(kc);
  const server: Server = createServer((socket) => {
    forward.portForward(namespace, pod, [port], socket, null, socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: localPort } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${localPort}`,
    close: () => {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Names and contents of every file in a tar.gz. */
export async function readTarGz(body: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on("end", () => {
        files.set(header.name, Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    parser.on("finish", resolve);
    parser.on("error", reject);
  });
  parser.end(gunzipSync(body));
  await done;
  return files;
}

/** Awaits a client-node call that must fail, and returns its Status. */
export async function failureOf(
  call: Promise<unknown>,
): Promise<{ code: number; reason: string; message: string }> {
  try {
    await call;
  } catch (error) {
    return statusOf(error);
  }
  throw new Error("expected the API call to fail");
}

/** The Kubernetes Status body of a failed client-node call. */
export function statusOf(error: unknown): { code: number; reason: string; message: string } {
  const e = error as { code?: number; body?: unknown };
  const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
  return { code: e.code ?? 0, reason: body?.reason, message: body?.message };
}

// Shared set-up for the backup integration tests: a sandbox cluster reached the way the product
// reaches a real one (kubeconfig → client-node over HTTPS → port-forward to kotsadm).
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { KubeKotsCluster, type KubeKotsClusterOptions } from "@kots-backup/adapters/kube/cluster";
import { connect } from "@kots-backup/adapters/kube/connection";
import { openPortForward, type PortForwardHandle } from "@kots-backup/adapters/kube/portforward";
import type { KotsBackupEvent } from "@kots-backup/core";
import type { VeleroBackup } from "@kots-backup/core/velero";
import { type Sandbox, type SandboxOptions, startSandbox } from "@kots-backup/sandbox";
import { pause } from "../support/wait.ts";

/** Waits on a condition, bounded by the test's timeout (test/support/wait.ts). */
export { eventually } from "../support/wait.ts";

export interface TestCluster {
  sandbox: Sandbox;
  cluster: KubeKotsCluster;
  events: KotsBackupEvent[];
  emit: (event: KotsBackupEvent) => void;
  /** The sandbox clock: Backup times come from it, so the use cases compare against it. */
  now: () => Date;
  stop(): Promise<void>;
}

/** The fields every `backup` result carries (docs/contract.md §2), from the CLI's --json and the Lambda alike. */
export const BACKUP_RESULT_FIELDS = [
  "name",
  "type",
  "phase",
  "status",
  "trigger",
  "requestedAt",
  "errors",
  "warnings",
  "deduplicated",
];

/** Retries with no waiting (the policy itself is unit-tested); Retry-After is still honoured. */
export const fastRetry = { baseDelayMs: 1, maxDelayMs: 5 };

export async function openTestCluster(
  options: SandboxOptions = {},
  clusterOptions: KubeKotsClusterOptions = {},
): Promise<TestCluster> {
  const sandbox = await startSandbox(options);
  const connection = await connect({ kind: "kubeconfig", file: sandbox.kubeconfigPath });
  const cluster = new KubeKotsCluster(connection, { name: "test", retry: fastRetry, ...clusterOptions });
  const events: KotsBackupEvent[] = [];
  return {
    sandbox,
    cluster,
    events,
    emit: (event) => {
      events.push(event);
    },
    now: () => sandbox.clock.now(),
    async stop() {
      await cluster.close();
      await sandbox.stop();
    },
  };
}

/**
 * Moves the sandbox clock forward in steps until `work` settles, so a backup that takes minutes of
 * sandbox time finishes; real time is only the few ms between steps.
 */
export async function driveUntilSettled<T>(sandbox: Sandbox, work: Promise<T>, stepMs = 5_000): Promise<T> {
  let settled = false;
  const watched = work.finally(() => {
    settled = true;
  });
  watched.catch(() => {});
  for (let guard = 0; !settled && guard < 10_000; guard++) {
    await pause(20);
    if (!settled) await sandbox.clock.advance(stepMs);
  }
  return work;
}

export function backupsIn(sandbox: Sandbox): VeleroBackup[] {
  return sandbox.state.list(
    sandbox.registry.byResource("velero.io", "backups"),
    sandbox.namespaces.velero,
  ) as unknown as VeleroBackup[];
}

/** Output streams for `main([...], streams)`. */
export function captureStreams() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return { streams: { stdout, stderr }, stdout: () => out, stderr: () => err };
}

/**
 * A kotsadm endpoint like the real port-forward, with one fault the sandbox cannot inject itself:
 * the first request whose head matches `match` reaches kotsadm (which handles it), and its response
 * is lost in transit (the client's connection is cut as the answer comes back).
 */
export function dropFirstResponse(
  sandbox: Sandbox,
  connectionPromise: ReturnType<typeof connect>,
  match: RegExp,
): { endpoint: () => Promise<PortForwardHandle>; dropped: () => number } {
  let dropped = 0;
  const endpoint = async (): Promise<PortForwardHandle> => {
    const connection = await connectionPromise;
    const pods = sandbox.state.list(sandbox.registry.byResource("", "pods"), sandbox.namespaces.kotsadm);
    const pod = pods.find((p) => p.metadata.labels?.["app"] === "kotsadm")?.metadata.name ?? "";
    const tunnel = await openPortForward(connection, sandbox.namespaces.kotsadm, pod, 3000);
    const upstream = new URL(tunnel.baseUrl);
    const sockets = new Set<Socket>();
    const server: Server = createServer((client) => {
      sockets.add(client);
      const remote = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
      sockets.add(remote);
      let doomed = false;
      client.on("data", (chunk: Buffer) => {
        if (dropped === 0 && match.test(chunk.toString("latin1").split("\r\n")[0] ?? "")) {
          dropped += 1;
          doomed = true;
        }
        remote.write(chunk);
      });
      remote.on("data", (chunk: Buffer) => {
        if (doomed) {
          client.destroy();
          remote.destroy();
          return;
        }
        client.write(chunk);
      });
      client.on("close", () => remote.destroy());
      remote.on("close", () => client.destroy());
      client.on("error", () => {});
      remote.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      lastError: () => tunnel.lastError(),
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await tunnel.close();
      },
    };
  };
  return { endpoint, dropped: () => dropped };
}

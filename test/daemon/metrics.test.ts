// The daemon's metrics listener binds loopback unless told otherwise: `/metrics` and `/healthz` are
// not offered to every network the machine is on. Checked on the loopback range itself: a listener on
// all interfaces also answers on 127.0.0.2, one on 127.0.0.1 does not.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonMetrics, serveMetrics } from "../../packages/cli/src/daemon/metrics.ts";

const BIN = new URL("../../packages/cli/src/bin.ts", import.meta.url).pathname;

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Runs `kots-backup daemon` until its metrics line; returns the address it names, then stops it. */
async function daemonMetricsAddress(
  config: string,
  flags: string[],
  check: (host: string, port: number) => Promise<void>,
): Promise<string> {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, "--config", config, "--json", "daemon", "--metrics-port", "0", ...flags],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    let log = "";
    const address = await new Promise<{ host: string; port: number }>((resolve, reject) => {
      child.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        const match = /metrics on http:\/\/([^:/]+):(\d+)\/metrics/.exec(log);
        if (match) resolve({ host: match[1] ?? "", port: Number(match[2]) });
      });
      exited.then(() => reject(new Error(`daemon exited before serving metrics:\n${log}`)));
    });
    await check(address.host, address.port);
    return address.host;
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

describe("metrics listener", () => {
  it("serveMetrics listens on 127.0.0.1 when no host is given", async () => {
    const server = await serveMetrics(new DaemonMetrics(), { port: 0, staleAfterMs: 30_000 });
    try {
      expect(server.host).toBe("127.0.0.1");
      expect(await accepts("127.0.0.1", server.port)).toBe(true);
      expect(await accepts("127.0.0.2", server.port)).toBe(false);
    } finally {
      await server.close();
    }
  });

  describe("kots-backup daemon", () => {
    let sandbox: Sandbox;
    let dir: string;
    const writeConfig = (name: string, daemon: string[]) => {
      const file = join(dir, name);
      writeFileSync(
        file,
        [
          "cluster:",
          `  kubeconfig: ${sandbox.kubeconfigPath}`,
          "export:",
          `  destination: file://${join(dir, "data")}`,
          "daemon:",
          "  verifyInterval: 1m",
          ...daemon,
          "",
        ].join("\n"),
      );
      return file;
    };
    beforeAll(async () => {
      sandbox = await startSandbox({ clock: "real" });
      dir = mkdtempSync(join(tmpdir(), "kb-metrics-"));
    });
    afterAll(async () => {
      await sandbox?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("binds loopback by default, says so, and serves /healthz there", async () => {
      const host = await daemonMetricsAddress(writeConfig("default.yaml", []), [], async (_host, port) => {
        expect(await accepts("127.0.0.1", port)).toBe(true);
        expect(await accepts("127.0.0.2", port), "reachable beyond 127.0.0.1").toBe(false);
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect([200, 503]).toContain(health.status);
      });
      // The log line names the address, never the old "0.0.0.0" fallback.
      expect(host).toBe("127.0.0.1");
    }, 60_000);

    it("binds daemon.metricsHost, and --metrics-host over it", async () => {
      const config = writeConfig("host.yaml", ["  metricsHost: 127.0.0.2"]);
      expect(
        await daemonMetricsAddress(config, [], async (_h, port) => {
          expect(await accepts("127.0.0.2", port)).toBe(true);
          expect(await accepts("127.0.0.1", port)).toBe(false);
        }),
      ).toBe("127.0.0.2");
      expect(
        await daemonMetricsAddress(config, ["--metrics-host", "127.0.0.3"], async (_h, port) => {
          expect(await accepts("127.0.0.3", port)).toBe(true);
          expect(await accepts("127.0.0.2", port)).toBe(false);
        }),
      ).toBe("127.0.0.3");
    }, 60_000);
  });
});

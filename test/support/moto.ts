// Starts and stops the moto server (the AWS test peer) for integration tests.
// moto comes from the project-local virtualenv made by scripts/setup.mjs.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const VENV_BIN = join(import.meta.dirname, "..", "..", ".peers", "venv", "bin");
export const MOTO_BIN = join(VENV_BIN, "moto_server");
/** moto's server with atomic S3 conditional writes (see moto_server.py). */
const MOTO_LAUNCHER = join(import.meta.dirname, "moto_server.py");

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

export function motoAvailable(): boolean {
  return existsSync(MOTO_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(VENV_BIN, "python"),
    [MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", String(port)],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: "true" },
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto server exited early (${child.exitCode}): ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto server did not start within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

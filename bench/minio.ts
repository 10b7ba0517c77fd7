// The fast S3-compatible server for the benchmarks: MinIO built from its Go module at a pinned version
// into `.peers/real/` by scripts/peers/build-real-peers.sh (git-ignored), started on 127.0.0.1 with a
// temporary data folder, stopped after.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
/** MinIO's module has no semver tags: the pseudo-version of the newest commit the Go proxy serves. */
export const MINIO_MODULE = "github.com/minio/minio";
export const MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c";
/** Built by scripts/peers/build-real-peers.sh, which reads MINIO_VERSION from this file (one pin). */
export const MINIO_BIN = join(ROOT, ".peers", "real", `minio-${MINIO_VERSION}`);

export const MINIO_CREDENTIALS = { accessKeyId: "kbbenchadmin", secretAccessKey: "kbbench-secret-key" };

/** Builds MinIO when the pinned binary is missing (a few minutes on 2 cores; once per machine). */
export function ensureMinio(log: (line: string) => void): string {
  if (existsSync(MINIO_BIN)) return MINIO_BIN;
  log(`building MinIO ${MINIO_VERSION} with ${execFileSync("go", ["version"]).toString().trim()} …`);
  execFileSync("bash", [join(ROOT, "scripts", "peers", "build-real-peers.sh"), "minio"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (!existsSync(MINIO_BIN)) throw new Error(`the peer build did not produce ${MINIO_BIN}`);
  return MINIO_BIN;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface Minio {
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startMinio(bin: string): Promise<Minio> {
  const port = await freePort();
  const consolePort = await freePort();
  const dataDir = mkdtempSync(join(process.env["KB_BENCH_DATA_DIR"] ?? tmpdir(), "kb-bench-minio-"));
  const child: ChildProcess = spawn(
    bin,
    ["server", dataDir, "--address", `127.0.0.1:${port}`, "--console-address", `127.0.0.1:${consolePort}`],
    {
      env: {
        ...process.env,
        MINIO_ROOT_USER: MINIO_CREDENTIALS.accessKeyId,
        MINIO_ROOT_PASSWORD: MINIO_CREDENTIALS.secretAccessKey,
        MINIO_BROWSER: "off",
        MINIO_UPDATE: "off",
        MINIO_CI_CD: "1",
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`MinIO exited (${child.exitCode}): ${stderr}`);
    try {
      const response = await fetch(`${endpoint}/minio/health/ready`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`MinIO did not become ready in 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// One moto server for the whole run, on a loopback port picked here; tests read its endpoint
// with `inject("motoEndpoint")` (see test/support/peers.ts). Without python the moto tests skip,
// except with CI=true, where a missing peer fails the run. KOTS_BACKUP_NO_MOTO=1 runs as if the peer
// were missing (even with CI=true), to check what the suite covers on a machine without python.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type MotoServer, motoAvailable, startMoto } from "./moto.ts";

let moto: MotoServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  const captureDir = join(import.meta.dirname, "..", "..", ".test-output");
  rmSync(captureDir, { recursive: true, force: true });
  mkdirSync(captureDir, { recursive: true });
  project.provide("captureDir", captureDir);
  if (process.env["KOTS_BACKUP_NO_MOTO"] === "1") {
    process.stderr.write("warning: KOTS_BACKUP_NO_MOTO=1: moto-backed tests are skipped\n");
    project.provide("motoEndpoint", "");
    return;
  }
  if (!motoAvailable()) {
    const message = "moto peer missing (.peers/venv): run `npm run setup` (needs python3)";
    if (process.env.CI === "true") throw new Error(`${message}; with CI=true the peers are required`);
    process.stderr.write(`warning: ${message}; moto-backed tests are skipped\n`);
    project.provide("motoEndpoint", "");
    return;
  }
  moto = await startMoto();
  project.provide("motoEndpoint", moto.endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    motoEndpoint: string;
    /** Where test/support/capture.ts records every line the run prints. */
    captureDir: string;
  }
}

// Shared set-up of the reliability suite: the sandbox cluster with request logs on every server it
// runs, the CLI run the way a user runs it (its output added to the run's capture, so the secret scan
// sees it), and config files written from objects.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import "../../../packages/cli/src/commands/index.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "@kots-backup/sandbox";
import { stringify } from "yaml";
import { main } from "../../../packages/cli/src/program.ts";
import { recordCaptured } from "../../support/capture.ts";
import { registerSecrets } from "./secrets.ts";

/** A sandbox whose minted secrets are registered for the scan, with a log of every API request. */
export interface LoggedSandbox {
  sandbox: Sandbox;
  /** Requests that reached the Kubernetes API server (method and path), oldest first. */
  apiRequests(): { method: string; path: string }[];
  /** Requests that reached the signed-URL server. */
  downloadRequests(): { method: string; path: string }[];
  /** Moves the recording rules behind every fault added since (call after `faults.add`). */
  reorderObservers(): void;
  stop(): Promise<void>;
}

/**
 * Starts a sandbox and adds catch-all fault rules that do nothing but record (the sandbox's `hits`
 * list then doubles as the API server's request log). Rules are tried in order, so faults a test adds
 * must be added BEFORE the observer: use `addFault`.
 */
export async function loggedSandbox(options: SandboxOptions = {}): Promise<LoggedSandbox> {
  const sandbox = await startSandbox(options);
  registerSecrets(
    "sandbox",
    sandbox.serviceAccountToken,
    sandbox.adminToken,
    (await sandbox.kotsadm.authString()) ?? undefined,
  );
  const ids = { api: new Set<number>(), download: new Set<number>() };
  let current: number[] = [];
  const observe = () => {
    for (const id of current) sandbox.faults.remove(id);
    const api = sandbox.faults.add({ target: "api", path: /.*/ });
    const download = sandbox.faults.add({ target: "download", path: /.*/ });
    ids.api.add(api);
    ids.download.add(download);
    current = [api, download];
  };
  observe();
  const of = (set: Set<number>) =>
    sandbox.faults.hits.filter((h) => set.has(h.id)).map(({ method, path }) => ({ method, path }));
  return {
    sandbox,
    apiRequests: () => of(ids.api),
    downloadRequests: () => of(ids.download),
    reorderObservers: observe,
    stop: () => sandbox.stop(),
  };
}

export function tempDir(prefix = "kb-rel-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Files under a folder (recursively), or [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

export function writeConfig(dir: string, config: unknown, name = "kots-backup.yaml"): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The --json document on stdout (undefined when there is none). */
  json?: { error?: { code: string; message: string; field?: string; fix?: string } } & Record<
    string,
    unknown
  >;
}

/**
 * Runs `kots-backup <args>` in-process. While it runs, the sandbox clock (when given) is moved on so
 * backups finish. Everything it printed is added to the run's capture (test/support/capture.ts).
 */
export async function cli(args: string[], sandbox?: Sandbox): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  let done = false;
  const run = main(args, { stdout, stderr }).finally(() => {
    done = true;
  });
  if (sandbox) {
    for (let guard = 0; !done && guard < 5_000; guard++) {
      await new Promise((r) => setTimeout(r, 20));
      if (!done) await sandbox.clock.advance(5_000);
    }
  }
  const code = await run;
  recordCaptured(`$ kots-backup ${args.join(" ")}\n${out}${err}`);
  let json: CliRun["json"];
  if (args.includes("--json")) {
    try {
      json = JSON.parse(out) as CliRun["json"];
    } catch {
      json = undefined;
    }
  }
  return { code, stdout: out, stderr: err, ...(json ? { json } : {}) };
}

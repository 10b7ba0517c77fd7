// `kots-backup daemon` as a child process against the sandbox (wall clock, a seconds-level internal
// schedule): killed mid-export and restarted, then stopped with SIGTERM. No slot is backed up twice
// (kotsadm's request log against the slot claims), the export completes after the restart, and the
// SIGTERM exit is clean (0, one JSON summary on stdout). No timing assertions: every wait is on a
// log line or a state, bounded only by the test timeout.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateStore } from "@kots-backup/adapters/state/state-store";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterEach, describe, expect, it } from "vitest";
import { backupsIn } from "../backup/support.ts";

const BIN = new URL("../../packages/cli/src/bin.ts", import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(
    predicate: (line: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>>;
}

function startDaemon(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let out = "";
  let pending = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const text of parts) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { message: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stdout: () => out,
    exited,
    waitFor(predicate, what) {
      const seen = lines.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ predicate, resolve });
        exited.then(() =>
          reject(
            new Error(
              `daemon exited before: ${what}\n${lines.map((l) => JSON.stringify(l)).join("\n")}\nstdout: ${out}`,
            ),
          ),
        );
      });
    },
  };
}

let sandbox: Sandbox | undefined;
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await sandbox?.stop();
  sandbox = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const message = (line: Record<string, unknown>) => String(line["message"] ?? "");

describe("kots-backup daemon", () => {
  it("survives a crash mid-export and a SIGTERM: no duplicate backup, a completed export, a clean exit", async () => {
    sandbox = await startSandbox({ clock: "real" });
    sandbox.velero.defaultScript = { durationMs: 1_000 };
    // Slow signed-URL downloads, so that the first daemon is surely killed inside the export.
    sandbox.faults.add({ target: "download", delayMs: 1_500, times: 3 });
    const dir = mkdtempSync(join(tmpdir(), "kb-daemon-"));
    dirs.push(dir);
    const data = join(dir, "data");
    const config = join(dir, "kots-backup.yaml");
    writeFileSync(
      config,
      [
        "cluster:",
        "  name: daemon-test",
        `  kubeconfig: ${sandbox.kubeconfigPath}`,
        "schedules:",
        "  - name: nightly",
        '    cron: "0 2 * * *"',
        "    grace: 1h",
        "export:",
        `  destination: file://${data}`,
        "daemon:",
        "  verifyInterval: 2s",
        "",
      ].join("\n"),
    );
    const args = [
      "--config",
      config,
      "--json",
      "daemon",
      "--internal-seconds-cron",
      "*/20 * * * * *",
      "--internal-tick",
      "1s",
      // A slot may fire just before the SIGTERM: its work must finish rather than be abandoned after the
      // default 20 s, which a loaded machine can exceed; the test's timeout still bounds the wait.
      "--shutdown-timeout",
      "10m",
    ];

    // 1. First daemon: a scheduled backup is taken; killed (SIGKILL, a crash) as its export runs.
    const first = startDaemon(args);
    children.push(first.child);
    const exporting = await first.waitFor(
      (l) => message(l).startsWith("exporting backup "),
      "an export starts",
    );
    const backup = String(exporting["backup"]);
    first.child.kill("SIGKILL");
    await first.exited;
    const store = new LocalFolderStore(data);
    expect(await store.head(`manifests/${backup}.json`)).toBeUndefined(); // it really died mid-export

    // 2. Restarted: it does not take the claimed slot again, and finishes the export.
    const second = startDaemon(args);
    children.push(second.child);
    await second.waitFor(
      (l) => message(l).startsWith(`export of ${backup} `) && /verified|already done/.test(message(l)),
      `the export of ${backup} completes`,
    );
    second.child.kill("SIGTERM");
    const exit = await second.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const summary = JSON.parse(second.stdout()) as Record<string, unknown>;
    expect(summary).toMatchObject({ stoppedBy: "SIGTERM", abandoned: 0 });
    expect(second.lines.some((l) => message(l).includes("SIGTERM received"))).toBe(true);

    // A completed, verified export.
    expect(await store.head(`manifests/${backup}.json`)).toBeDefined();
    // No duplicate: one claim per slot, at most one kotsadm request per claim, one Backup per request,
    // no Backup named by two claims. (A SIGKILL can land between kotsadm's answer and the claim's
    // outcome: that claim then names no backup, but its slot was still asked for once.)
    const claims = await new StateStore(store).listClaims();
    const started = claims.filter((c) => c.outcome === "started");
    expect(new Set(claims.map((c) => c.slot)).size).toBe(claims.length);
    expect(new Set(started.map((c) => c.backup)).size).toBe(started.length);
    expect(started.map((c) => c.backup)).toContain(backup);
    expect(sandbox.kotsadm.backupRequestCount()).toBeGreaterThanOrEqual(started.length);
    expect(sandbox.kotsadm.backupRequestCount()).toBeLessThanOrEqual(claims.length);
    expect(backupsIn(sandbox)).toHaveLength(sandbox.kotsadm.backupRequestCount());
    expect(claims.find((c) => c.backup === backup)?.slot).toBeDefined();
  }, 300_000);
});

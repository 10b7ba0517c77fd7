// `npm run demo` (= node packages/cli/src/demo.ts) exits 0 by itself and narrates every step; Ctrl-C
// stops it cleanly too. It runs on the wall clock (about 20-50 s here), hence the generous timeout.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const DEMO = new URL("../../packages/cli/src/demo.ts", import.meta.url).pathname;

function runDemo(
  onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void,
  env: Record<string, string> = {},
) {
  const child = spawn(process.execPath, [DEMO], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    stdout += text;
    // Whole lines only: a read can end mid-line.
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine?.(line, (signal) => child.kill(signal));
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
}

describe("npm run demo", () => {
  // The demo waits on its 10-s slots, which a loaded machine can make it miss: its own deadline is
  // raised (stays under the test's timeout), and its stdout says which step was missing.
  it("shows a scheduled backup exported and verified, a failure alerted, its recovery, the status page; exit 0", async () => {
    const { code, stdout, stderr } = await runDemo(undefined, { KOTS_BACKUP_DEMO_DEADLINE: "4m" });
    expect(stderr).not.toMatch(/controller error|unhandled/i);
    expect(code, stdout).toBe(0);
    expect(stdout).toContain("SIMULATED");
    for (const step of [
      "STEP 1 done",
      "STEP 2 done",
      "STEP 3 done",
      "STEP 4 done",
      "STEP 5: status page written: ",
      "STEP 6: restore drill of ",
    ]) {
      expect(stdout).toContain(step);
    }
    expect(stdout).toContain("ALERT: Check Down kots-backup:demo:demo-full");
    expect(stdout).toContain("RESOLVED: Check Up kots-backup:demo:demo-full");
    expect(stdout).toMatch(/\[webhook receiver\] POST \/kots-backup-alerts: Check Down/);
    expect(stdout).toMatch(/\[webhook receiver\] POST \/kots-backup-alerts: Check Up/);
    expect(stdout).toMatch(/STEP 6: restore drill of \S+: restorable/);
    // What the snapshot does not hold: the dump went stale, paged once, and resolved once.
    expect(stdout).toMatch(/verify: check external:orders-dump is DOWN \(missed\)/);
    expect(stdout.match(/ALERT: Check Down kots-backup:demo:external:orders-dump/g)).toHaveLength(1);
    expect(stdout.match(/RESOLVED: Check Up kots-backup:demo:external:orders-dump/g)).toHaveLength(1);
    expect(stdout).toMatch(/app orders: recovery point \d{4}-/);
    expect(stdout).toContain("demo complete");
  }, 300_000);

  it("stops on Ctrl-C (SIGINT) with exit 0", async () => {
    let sent = false;
    const { code, stdout } = await runDemo((line, kill) => {
      if (!sent && line.includes("STEP 1:")) {
        sent = true;
        kill("SIGINT");
      }
    });
    expect(code).toBe(0);
    expect(stdout).toContain("demo interrupted");
  }, 60_000);

  it("refuses a KOTS_BACKUP_DEMO_DEADLINE that is not a duration, naming it, before starting anything", async () => {
    const { code, stdout, stderr } = await runDemo(undefined, { KOTS_BACKUP_DEMO_DEADLINE: "soon" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^KOTS_BACKUP_DEMO_DEADLINE: "soon" is not a duration: write a number/);
    expect(stdout).toBe("");
  });
});

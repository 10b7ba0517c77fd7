// The secret scan: everything the run printed (test/support/capture.ts records every worker's stdout,
// stderr and console, plus what suites add with recordCaptured: CLI output, emitted events, bodies
// our alert receivers got) is searched for every test secret — raw, URL-encoded, JSON-escaped and
// base64 — and must contain none.
//
// When it runs: vitest has no "run this file last" option (files are ordered by cached duration —
// failed first —, else by size, and run in parallel on several workers; a file named zz-… is not run
// last), and a globalSetup teardown would have to be registered in vitest.config.ts, which this suite
// does not own. So every reliability file that handles the secrets ends with this scan as its last
// test: it marks the file done, waits until no other vitest worker is running a file, then scans all
// that was recorded so far. Whatever the order and the number of workers, the reliability file that
// finishes last sees every other one done: its scan covers all of them and everything that ran before
// or alongside (it says "complete"). Files that start after it (only possible with one worker) are not
// covered: the watertight form is a globalSetup teardown calling `scanRecordedOutput()`.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { expect, inject, it } from "vitest";
import { allTestSecrets, doneFiles, markDone } from "./secrets.ts";

/** The reliability files that handle the test secrets and print with them at hand. */
export const SECRET_HANDLING_FILES = [
  "bad-input",
  "faults",
  "tls",
  "rbac",
  "alerts",
  "export-faults",
] as const;

/** Other vitest fork workers of this run that are still alive (each runs one test file). */
function otherWorkers(): number[] {
  const mine = process.pid;
  const parent = process.ppid;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === mine) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("vitest/dist/workers/"))
        found.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return found;
}

async function quiet(): Promise<void> {
  let calm = 0;
  for (let i = 0; i < 1_500 && calm < 5; i++) {
    calm = otherWorkers().length === 0 ? calm + 1 : 0;
    if (calm < 5) await sleep(100);
  }
}

/** The forms a secret can take in text: raw, URL-encoded, JSON-escaped, base64. */
function forms(value: string): string[] {
  return [
    ...new Set([
      value,
      encodeURIComponent(value),
      JSON.stringify(value).slice(1, -1),
      Buffer.from(value).toString("base64"),
    ]),
  ];
}

export interface ScanResult {
  bytes: number;
  lines: number;
  workers: number;
  secrets: number;
  found: string[];
  text: string;
}

/** Searches everything recorded so far for every test secret. */
export function scanRecordedOutput(): ScanResult {
  const dir = inject("captureDir");
  const files = readdirSync(dir);
  const text = files.map((f) => readFileSync(`${dir}/${f}`, "utf8")).join("");
  const secrets = allTestSecrets();
  const found: string[] = [];
  for (const secret of secrets) {
    for (const form of forms(secret.value)) {
      let at = text.indexOf(form);
      while (at !== -1 && found.length < 20) {
        found.push(`${secret.label} at byte ${at}: …${text.slice(Math.max(0, at - 80), at)}<secret>…`);
        at = text.indexOf(form, at + form.length);
      }
    }
  }
  return {
    bytes: Buffer.byteLength(text),
    lines: text.split("\n").length,
    workers: files.length,
    secrets: secrets.length,
    found,
    text,
  };
}

/** The last test of a secret-handling file: mark it done, wait for the other workers, scan. */
export function defineSecretScan(file: (typeof SECRET_HANDLING_FILES)[number]): void {
  it("finds none of the test secrets in anything the run printed so far", { timeout: 180_000 }, async () => {
    markDone(file);
    await quiet();
    const complete = SECRET_HANDLING_FILES.every((f) => doneFiles().includes(f));
    const result = scanRecordedOutput();
    process.stdout.write(
      `secret scan after ${file}${complete ? " (complete: every secret-handling file has run)" : ""}: ${result.secrets} secrets × 4 forms in ${result.bytes} bytes, ${result.lines} lines from ${result.workers} workers: ${result.found.length} found\n`,
    );
    expect(result.bytes).toBeGreaterThan(0);
    if (complete) {
      expect(result.text).toContain("$ kots-backup");
      // The scan is meaningful: the suites printed with the secrets at hand, failures included.
      expect(result.text).toMatch(/kotsadm-authstring credentials \(401\)/);
      expect(result.text).toMatch(/alert body/);
      expect(result.secrets).toBeGreaterThanOrEqual(10);
    }
    expect(result.found).toEqual([]);
  });
}

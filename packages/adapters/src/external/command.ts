// Anything else as a recovery point (a pg_dump cron, a Redis RDB copy): an executable the operator
// names, run without a shell, that exits 0 within its timeout and prints on its first line the RFC 3339
// time of the newest recovery point. Its output is untrusted: only that line is read (at most 4 KiB of
// stdout is kept), a time beyond now + the clock-skew allowance counts for nothing, and stderr is never
// read or logged (it may hold secrets). A non-zero exit, a timeout or anything else on the line means
// the point cannot be observed (`unreachable`, down after grace). Daemon and CLI only: Lambda has no
// such executable (refused at deploy time, and by the functions' wiring).
import { spawn } from "node:child_process";
import type { ExternalPointConfig } from "@kots-backup/core/config";
import type { ExternalObservation } from "@kots-backup/core/external";
import { observe, shown } from "./observation.ts";

type CommandPoint = Extract<ExternalPointConfig, { kind: "command" }>;

const MAX_STDOUT_BYTES = 4096;
/** RFC 3339 date-time with seconds optional and a zone: what "an ISO time" means here. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  spawnError?: string;
}

function run(argv: readonly string[], timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const [file, ...args] = argv as [string, ...string[]];
    // Its own process group, so that a timeout ends the script and whatever it started.
    const child = spawn(file, args, { shell: false, detached: true, stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    let kept = 0;
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (kept >= MAX_STDOUT_BYTES) return;
      chunks.push(chunk.subarray(0, MAX_STDOUT_BYTES - kept));
      kept += Math.min(chunk.length, MAX_STDOUT_BYTES - kept);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    const done = (outcome: Omit<Outcome, "stdout" | "timedOut">) => {
      clearTimeout(timer);
      resolve({ ...outcome, timedOut, stdout: Buffer.concat(chunks).toString("utf8") });
    };
    child.once("error", (error: NodeJS.ErrnoException) =>
      done({ code: null, signal: null, spawnError: error.code ?? error.name }),
    );
    child.once("close", (code, signal) => done({ code, signal }));
  });
}

/** Runs the point's command and observes the time it printed. */
export async function observeCommand(point: CommandPoint, now: Date): Promise<ExternalObservation> {
  const name = shown(point.command[0] ?? "");
  const outcome = await run(point.command, point.timeout);
  const fail = (why: string): ExternalObservation => ({ reachable: false, detail: `${name} ${why}` });
  if (outcome.spawnError) return fail(`could not be started (${shown(outcome.spawnError)})`);
  if (outcome.timedOut) return fail(`did not finish within ${point.timeout / 1000}s`);
  if (outcome.code !== 0)
    return fail(outcome.signal ? `was ended by ${outcome.signal}` : `exited ${outcome.code}`);
  const line = outcome.stdout.split(/\r?\n/, 1)[0]?.trim() ?? "";
  if (!RFC3339.test(line) || Number.isNaN(Date.parse(line)))
    return fail(
      `printed no ISO time on its first line (got ${line === "" ? "nothing" : `"${shown(line.slice(0, 40))}"`})`,
    );
  return observe([{ at: Date.parse(line), id: line, good: true }], now, "recovery point");
}

// Records every line a test run prints (stdout, stderr, console) into .test-output/, one file per
// worker process, so suites can scan all of it afterwards (e.g. for leaked secrets). Loaded as a
// vitest setup file; output still reaches the terminal as usual.
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";

const dir = inject("captureDir");

function record(text: string): void {
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, `${process.pid}.log`), text.endsWith("\n") ? text : `${text}\n`);
}

function wrapStream(stream: NodeJS.WriteStream): void {
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    record(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
    return original(chunk, ...rest);
  }) as typeof stream.write;
}

function wrapConsole(): void {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      record(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      original(...args);
    };
  }
}

/** Everything recorded so far in this run, by all workers. */
export function capturedOutput(): string {
  if (!dir) return "";
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("");
}

/** Adds text produced outside this process (a child's output, an emitted event) to the record. */
export function recordCaptured(text: string): void {
  record(text);
}

wrapStream(process.stdout);
wrapStream(process.stderr);
wrapConsole();

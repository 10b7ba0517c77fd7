// How the CLI speaks: results on stdout (one JSON document with --json), logs and progress on stderr.
// Human text is for a terminal, and much of it comes from the cluster (backup names and annotations,
// failure reasons, app slugs): every value is shown through escapeControl, so that none can forge a
// row with a newline or reach the terminal as an escape sequence. JSON output stays exact.
import { inspect } from "node:util";
import { ExitCode, isKotsBackupError, type KotsBackupError } from "@kots-backup/core/errors";
import { escapeControl } from "@kots-backup/core/text";

/** The one escaping of human text: each value a renderer prints goes through it. */
export { escapeControl };

export interface Output {
  readonly json: boolean;
  /** Writes the command's result: JSON, or the human rendering. */
  result<T>(value: T, human: (value: T) => string): void;
  /**
   * A log line on stderr, starting with its RFC 3339 UTC time (a JSON line with `time` under --json), so
   * that a long-running command's log says when each thing happened. Never pass secrets.
   */
  log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void;
}

export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function createOutput(json: boolean, streams: Streams = process): Output {
  return {
    json,
    result(value, human) {
      streams.stdout.write(
        json ? `${JSON.stringify(value, null, 2)}\n` : ensureNewline(safeLines(human(value))),
      );
    },
    log(level, message, fields = {}) {
      const time = new Date().toISOString();
      if (json) {
        const line = { time, level, message, ...fields };
        streams.stderr.write(`${JSON.stringify(line)}\n`);
        return;
      }
      const extras = Object.entries(fields)
        .map(
          ([k, v]) =>
            `${k}=${typeof v === "string" ? v : inspect(v, { breakLength: Number.POSITIVE_INFINITY })}`,
        )
        .join(" ");
      const prefix = level === "info" ? "" : `${level}: `;
      // One log entry, one line: whatever the message and fields hold.
      streams.stderr.write(`${time} ${prefix}${escapeControl(`${message}${extras ? ` ${extras}` : ""}`)}\n`);
    },
  };
}

/** Shows an error per the contract and returns the exit code to use. */
export function reportError(error: unknown, json: boolean, streams: Streams = process): ExitCode {
  const known: KotsBackupError | undefined = isKotsBackupError(error) ? error : undefined;
  const exitCode = known?.exitCode ?? ExitCode.environment;
  const body = known
    ? known.toJSON()
    : { code: "unexpected-error", message: error instanceof Error ? error.message : String(error) };
  if (json) {
    // Exit 1 results are written by the command itself; errors on stdout only for 2 and 3.
    if (exitCode !== ExitCode.problem) streams.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
    else streams.stderr.write(`${JSON.stringify({ level: "error", ...body })}\n`);
  } else {
    const fix = known?.fix ? `\n  fix: ${escapeControl(known.fix)}` : "";
    streams.stderr.write(`error: ${escapeControl(body.message)}${fix}\n`);
  }
  return exitCode;
}

/**
 * A renderer's lines, each escaped: what a renderer forgot to pass through escapeControl still cannot carry
 * an escape sequence to the terminal (only a newline inside a value, which must be escaped per value).
 */
function safeLines(text: string): string {
  return text.split("\n").map(escapeControl).join("\n");
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

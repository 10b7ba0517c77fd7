// How the CLI speaks: results on stdout (one JSON document with --json), logs and progress on stderr.
import { inspect } from "node:util";
import { ExitCode, isKotsBackupError, type KotsBackupError } from "@kots-backup/core/errors";

export interface Output {
  readonly json: boolean;
  /** Writes the command's result: JSON, or the human rendering. */
  result<T>(value: T, human: (value: T) => string): void;
  /** A log line on stderr (JSON lines with --json). Never pass secrets. */
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
      streams.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : ensureNewline(human(value)));
    },
    log(level, message, fields = {}) {
      if (json) {
        const line = { time: new Date().toISOString(), level, message, ...fields };
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
      streams.stderr.write(`${prefix}${message}${extras ? ` ${extras}` : ""}\n`);
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
    streams.stderr.write(`error: ${known ? known.explanation : body.message}\n`);
  }
  return exitCode;
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

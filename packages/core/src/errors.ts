// One error family for the whole product. Only the CLI entry point and the Lambda wrapper decide how
// an error is shown; everything else throws one of these, naming the field or resource and the fix.
// Messages must never contain secrets (tokens, auth strings, webhook URLs, routing keys).

/** Exit codes of the contract (docs/contract.md §2). */
export const ExitCode = {
  ok: 0,
  /** Done, and it found a problem (failed backup, a check down, an export that did not verify). */
  problem: 1,
  /** Usage, config or input error: nothing was changed. */
  usage: 2,
  /** Something outside is unreachable, refuses, or is missing. */
  environment: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface KotsBackupErrorOptions extends ErrorOptions {
  /** Dotted path of the offending config key, event field or flag, e.g. `schedules[0].cron`. */
  field?: string;
  /** What the user should do about it, as a sentence. */
  fix?: string;
}

/** Base of every error the product raises on purpose. `code` is kebab-case and stable. */
export class KotsBackupError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly field?: string;
  readonly fix?: string;

  constructor(code: string, exitCode: ExitCode, message: string, options: KotsBackupErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KotsBackupError";
    this.code = code;
    this.exitCode = exitCode;
    if (options.field !== undefined) this.field = options.field;
    if (options.fix !== undefined) this.fix = options.fix;
  }

  /** The message with its fix, as shown to a person. */
  get explanation(): string {
    return this.fix ? `${this.message}\n  fix: ${this.fix}` : this.message;
  }

  toJSON(): { code: string; message: string; field?: string; fix?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.fix === undefined ? {} : { fix: this.fix }),
    };
  }
}

/** Bad config, event or flag (exit 2). Raised before any side effect. */
export class InputError extends KotsBackupError {
  constructor(code: string, message: string, options: KotsBackupErrorOptions = {}) {
    super(code, ExitCode.usage, message, options);
    this.name = "InputError";
  }
}

/** The outside world is unreachable, refuses or lacks something (exit 3). */
export class EnvironmentError extends KotsBackupError {
  constructor(code: string, message: string, options: KotsBackupErrorOptions = {}) {
    super(code, ExitCode.environment, message, options);
    this.name = "EnvironmentError";
  }
}

/** The job ran and found a problem (exit 1): a failed backup, an export that did not verify. */
export class ProblemError extends KotsBackupError {
  constructor(code: string, message: string, options: KotsBackupErrorOptions = {}) {
    super(code, ExitCode.problem, message, options);
    this.name = "ProblemError";
  }
}

export function isKotsBackupError(error: unknown): error is KotsBackupError {
  return error instanceof KotsBackupError;
}

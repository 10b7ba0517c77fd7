import { EnvironmentError, ProblemError } from "@kots-backup/core";

/** The object does not exist. */
export class NotFoundError extends EnvironmentError {
  readonly key: string;
  constructor(location: string, key: string) {
    super("object-not-found", `no object ${key} in ${location}`);
    this.name = "NotFoundError";
    this.key = key;
  }
}

/** A conditional write lost: the key exists (create-only) or changed (If-Match). */
export class PreconditionFailedError extends EnvironmentError {
  readonly key: string;
  constructor(location: string, key: string) {
    super("precondition-failed", `conditional write of ${key} in ${location} lost to another writer`);
    this.name = "PreconditionFailedError";
    this.key = key;
  }
}

/** The bytes written or read do not hash to the SHA-256 the caller stated. Nothing was stored. */
export class ChecksumMismatchError extends ProblemError {
  readonly key: string;
  readonly expected: string;
  readonly actual: string;
  constructor(location: string, key: string, expected: string, actual: string) {
    super(
      "checksum-mismatch",
      `checksum mismatch writing ${key} in ${location}: the body hashes to SHA-256 ${actual}, expected ${expected}; nothing was stored`,
      { fix: "re-read the source object and retry; if it repeats, the source is changing or corrupt" },
    );
    this.name = "ChecksumMismatchError";
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }
}

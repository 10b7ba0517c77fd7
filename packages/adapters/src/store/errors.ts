import { EnvironmentError } from "@kots-backup/core";

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

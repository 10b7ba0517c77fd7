// A pass-through stream that hashes and counts what flows through it, and can refuse a body whose
// SHA-256 differs from the one expected: the error fires at end of input, before the consumer sees
// the end, so a store can abort instead of committing.
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ChecksumMismatchError } from "./errors.ts";

export class Sha256Meter extends Transform {
  bytes = 0;
  /** Hex digest, set once the input has ended. */
  sha256: string | undefined;
  private readonly hash: Hash = createHash("sha256");
  private readonly expected: string | undefined;
  private readonly location: string;
  private readonly key: string;

  constructor(location: string, key: string, expected?: string) {
    super();
    this.location = location;
    this.key = key;
    this.expected = expected;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.hash.update(buffer);
    this.bytes += buffer.length;
    callback(null, buffer);
  }

  override _flush(callback: TransformCallback): void {
    this.sha256 = this.hash.digest("hex");
    if (this.expected !== undefined && this.expected !== this.sha256) {
      callback(new ChecksumMismatchError(this.location, this.key, this.expected, this.sha256));
      return;
    }
    callback();
  }
}

export function sha256Hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

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

/** A CRC-32 as S3 writes it: base64 of its 4 big-endian bytes. */
export function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString("base64");
}

/**
 * The CRC-32 of A followed by B, from crc(A), crc(B) and B's length (zlib's crc32_combine: multiply
 * crc(A) by x^(8·lenB) in GF(2)[x] mod the CRC polynomial, by repeated squaring of the one-zero-bit
 * operator). Lets a multipart upload state the whole object's CRC-32 while each byte is CRC'd once.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const times = (matrix: Uint32Array, vector: number) => {
    let sum = 0;
    for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i]!;
    return sum >>> 0;
  };
  const square = (into: Uint32Array, matrix: Uint32Array) => {
    for (let n = 0; n < 32; n++) into[n] = times(matrix, matrix[n]!);
  };
  const odd = new Uint32Array(32); // the operator for one zero bit
  odd[0] = 0xedb88320;
  for (let n = 1; n < 32; n++) odd[n] = 1 << (n - 1);
  const even = new Uint32Array(32);
  square(even, odd); // two zero bits
  square(odd, even); // four zero bits
  let crc = crcA >>> 0;
  let remaining = lengthB;
  // Each round squares the operator (one zero byte, then 2, 4, …) and applies it for each set bit.
  for (;;) {
    square(even, odd);
    if (remaining % 2 === 1) crc = times(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    square(odd, even);
    if (remaining % 2 === 1) crc = times(odd, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}

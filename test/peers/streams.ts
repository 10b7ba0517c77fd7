// Test payloads: large deterministic streams produced on demand, so tests never hold them in memory.
import { createCipheriv, createHash } from "node:crypto";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { crc32Base64 } from "@kots-backup/adapters/store/hashing";

export const MiB = 1024 * 1024;

/** A deterministic pseudo-random stream of `size` bytes (AES-CTR keystream), produced on demand. */
export function generated(
  size: number,
  seed: string,
  onMidpoint?: () => Promise<void>,
): { stream: Readable; sha256: () => string; crc32Base64: () => string } {
  const hash = createHash("sha256");
  let crc = 0;
  const cipher = createCipheriv("aes-256-ctr", createHash("sha256").update(seed).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  let produced = 0;
  let paused = false;
  async function* chunks() {
    while (produced < size) {
      const n = Math.min(zeros.length, size - produced);
      const chunk = cipher.update(zeros.subarray(0, n));
      hash.update(chunk);
      crc = crc32(chunk, crc);
      produced += n;
      yield chunk;
      if (onMidpoint && !paused && produced >= size / 2 + 4 * MiB) {
        paused = true;
        await onMidpoint();
      }
    }
  }
  let digest: string | undefined;
  const sha256 = () => {
    digest ??= hash.digest("hex");
    return digest;
  };
  return { stream: Readable.from(chunks()), sha256, crc32Base64: () => crc32Base64(crc) };
}

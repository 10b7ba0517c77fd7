// The pieces of the streamed multipart upload that need no S3: the CRC-32 combination, the part
// reader and the bounded buffer pool. The upload itself is tested against moto in
// test/peers/s3-store.test.ts and through the S3 fault proxy in test/reliability/export-faults.test.ts.
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32Base64, crc32Combine } from "./hashing.ts";
import { PartBuffers, PartReader } from "./s3-upload.ts";

describe("crc32Combine", () => {
  it("equals zlib's CRC-32 of the concatenation, for any two byte strings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        const whole = crc32(Buffer.concat([a, b]));
        expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(whole);
      }),
    );
  });

  it("holds for a part of 8 MiB and across many parts", () => {
    const parts = [
      Buffer.alloc(8 * 1024 * 1024, 7),
      Buffer.from("middle"),
      Buffer.alloc(5 * 1024 * 1024 + 3, 1),
    ];
    let crc = 0;
    for (const part of parts) crc = crc32Combine(crc, crc32(part), part.length);
    expect(crc).toBe(crc32(Buffer.concat(parts)));
  });

  it("writes a CRC-32 the way S3 states it (base64, big-endian)", () => {
    expect(crc32Base64(crc32(Buffer.from("123456789")))).toBe(
      Buffer.from("cbf43926", "hex").toString("base64"),
    );
  });
});

const chunksOf = (sizes: number[]) =>
  Readable.from(sizes.map((n, i) => Buffer.alloc(n, i + 1)))[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

describe("PartReader", () => {
  it("fills parts to the byte across chunk boundaries, after what it read ahead", async () => {
    const reader = new PartReader(chunksOf([3, 5, 4, 2]));
    expect(await reader.readAhead(4)).toBe(false); // 8 bytes queued: more than 4
    const part = Buffer.alloc(6);
    expect(await reader.fill(part)).toBe(6);
    expect([...part]).toEqual([1, 1, 1, 2, 2, 2]);
    expect(await reader.fill(part)).toBe(6);
    expect([...part]).toEqual([2, 2, 3, 3, 3, 3]);
    expect(await reader.fill(part)).toBe(2);
    expect([...part.subarray(0, 2)]).toEqual([4, 4]);
    expect(await reader.fill(part)).toBe(0);
  });

  it("says when the whole input fits in what it read ahead", async () => {
    const reader = new PartReader(chunksOf([3, 2]));
    expect(await reader.readAhead(8)).toBe(true);
    expect([...reader.takeQueued()]).toEqual([1, 1, 1, 2, 2]);
  });
});

describe("PartBuffers", () => {
  it("never has more than its maximum out; a release hands the buffer to the next waiter", async () => {
    const pool = new PartBuffers(16, 2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    let third: Buffer | undefined;
    const waiting = pool.acquire().then((buffer) => {
      third = buffer;
    });
    await Promise.resolve();
    expect(third).toBeUndefined();
    pool.release(a);
    await waiting;
    expect(third).toBe(a);
    pool.release(b);
    pool.release(a);
  });

  it("drops its buffers once none is in use", async () => {
    const pool = new PartBuffers(16, 2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(a);
    expect(await pool.acquire()).toBe(a); // reused while another is out
    pool.release(a);
    pool.release(b);
    const next = await pool.acquire();
    expect(next).not.toBe(a);
    expect(next).not.toBe(b);
  });
});

// The Velero tarball structural check (kots-velero.md §6) on tarballs built here with tar-stream.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gzipSync } from "node:zlib";
import { checkVeleroTarball, TARBALL_LIMITS } from "@kots-backup/adapters/tarball";
import { type Header, pack } from "tar-stream";
import { describe, expect, it } from "vitest";

type Entry = { name: string; body?: string } & Partial<Header>;

async function tarGz(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => p.on("end", () => resolve()));
  for (const { body, ...header } of entries) p.entry({ mode: 0o755, ...header }, body ?? "");
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

const MiB = 1024 * 1024;

/** A valid tarball plus one resource entry of `size` zero bytes, gzip'd as it streams (never whole in memory). */
async function withZeros(size: number): Promise<Buffer> {
  const p = pack();
  const compressed: Buffer[] = [];
  const gzipped = pipeline(p, createGzip(), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) compressed.push(chunk);
  });
  for (const { name, body } of good) p.entry({ name }, body);
  const big = p.entry({ name: "resources/configmaps/namespaces/default/zeros.json", size });
  const block = Buffer.alloc(MiB);
  for (let left = size; left > block.length; left -= block.length) {
    if (!big.write(block)) await new Promise<void>((resolve) => big.once("drain", () => resolve()));
  }
  big.end(block.subarray(0, size % block.length || block.length));
  p.finalize();
  await gzipped;
  return Buffer.concat(compressed);
}

const pod = JSON.stringify({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "kotsadm-0", namespace: "default" },
});
const ns = JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
const good = [
  { name: "metadata/version", body: "1.1.0\n" },
  { name: "resources/namespaces/cluster/default.json", body: ns },
  { name: "resources/namespaces/v1-preferredversion/cluster/default.json", body: ns },
  { name: "resources/pods/namespaces/default/kotsadm-0.json", body: pod },
  { name: "resources/pods/v1-preferredversion/namespaces/default/kotsadm-0.json", body: pod },
];

const check = async (entries: Entry[]) => checkVeleroTarball(Readable.from([await tarGz(entries)]));

describe("checkVeleroTarball", () => {
  it("accepts a 1.1.0 tarball with items at their primary and preferred-version paths", async () => {
    const report = await check(good);
    expect(report).toMatchObject({
      ok: true,
      formatVersion: "1.1.0",
      entries: 5,
      resources: 4,
      problems: [],
    });
  });

  it.each([
    ["no metadata/version", good.slice(1), /no metadata\/version/],
    ["a 2.x format", [{ name: "metadata/version", body: "2.0.0\n" }, ...good.slice(1)], /not a 1\.x semver/],
    ["no resources", good.slice(0, 1), /no resources\//],
    [
      "an unexpected resources path",
      [...good, { name: "resources/pods/stray.json", body: pod }],
      /unexpected path "resources\/pods\/stray\.json"/,
    ],
    [
      "JSON that is not JSON",
      [...good, { name: "resources/pods/namespaces/default/broken.json", body: "{" }],
      /not valid JSON/,
    ],
    [
      "an object without metadata.name",
      [
        ...good,
        {
          name: "resources/pods/namespaces/default/anon.json",
          body: JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: {} }),
        },
      ],
      /lacks apiVersion, kind or metadata\.name/,
    ],
  ])("refuses a tarball with %s", async (_label, entries, problem) => {
    const report = await check(entries);
    expect(report.ok).toBe(false);
    expect(report.problems.join("\n")).toMatch(problem);
  });

  it("refuses a truncated or corrupted gzip stream", async () => {
    const bytes = await tarGz(good);
    const truncated = await checkVeleroTarball(Readable.from([bytes.subarray(0, bytes.length - 10)]));
    expect(truncated.ok).toBe(false);
    const corrupted = Buffer.from(bytes);
    for (let i = 20; i < 30; i++) corrupted[i] = (corrupted[i] ?? 0) ^ 0xff;
    expect((await checkVeleroTarball(Readable.from([corrupted]))).ok).toBe(false);
  });

  it.each([
    [
      "a .. component",
      { name: "resources/pods/namespaces/../../../etc/cron.d/x.json", body: pod },
      /"resources\/pods\/namespaces\/\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x\.json" has a \.\. component/,
    ],
    ["a leading ../", { name: "../outside.json", body: pod }, /"\.\.\/outside\.json" has a \.\. component/],
    ["an absolute path", { name: "/etc/passwd", body: "root:x:0:0" }, /"\/etc\/passwd" has an absolute path/],
    [
      "a symlink",
      { name: "resources/pods/namespaces/default/link.json", type: "symlink", linkname: "/etc/shadow" },
      /"resources\/pods\/namespaces\/default\/link\.json" is a symlink/,
    ],
    [
      "a hard link",
      { name: "resources/pods/namespaces/default/hard.json", type: "link", linkname: "metadata/version" },
      /"resources\/pods\/namespaces\/default\/hard\.json" is a link/,
    ],
    [
      "a character device",
      { name: "dev/null", type: "character-device" },
      /"dev\/null" is a character-device/,
    ],
    ["a block device", { name: "dev/sda", type: "block-device" }, /"dev\/sda" is a block-device/],
    ["a FIFO", { name: "metadata/pipe", type: "fifo" }, /"metadata\/pipe" is a fifo/],
    [
      "a name with control characters (shown escaped)",
      { name: "resources/\u001b[2J/../x.json", body: pod },
      /"resources\/\\u001b\[2J\/\.\.\/x\.json" has a \.\. component/,
    ],
  ] as Array<[string, Entry, RegExp]>)(
    "refuses an entry a restore must never trust: %s",
    async (_label, entry, problem) => {
      const report = await check([...good, entry]);
      expect(report.ok).toBe(false);
      expect(report.problems.join("\n")).toMatch(problem);
      expect(report.problems.join("\n")).not.toContain("\u001b");
    },
  );

  it("refuses a gzip bomb after a bounded amount of work: 80 MiB of zeros from ~80 KiB", async () => {
    const bomb = await withZeros(80 * MiB);
    expect(bomb.length).toBeLessThan((80 * MiB) / TARBALL_LIMITS.maxRatio);
    const report = await checkVeleroTarball(Readable.from([bomb]));
    expect(report.ok).toBe(false);
    const text = report.problems.join("\n");
    expect(text).toMatch(/more than 200 times its compressed size .*: refused as a decompression bomb/);
    // Stopped just past the 64 MiB from which the ratio applies, not at the end of the 80 MiB.
    expect(Number(/\((\d+) bytes from/.exec(text)?.[1])).toBeLessThan(65 * MiB);
  });

  it("accepts a small, very compressible tarball: the ratio applies past 64 MiB only", async () => {
    const report = await checkVeleroTarball(Readable.from([await withZeros(2 * MiB)]));
    // The zeros are not JSON (a problem of its own), but no decompression bound is hit.
    expect(report.problems.join("\n")).not.toMatch(/decompression bomb/);
  });

  it("refuses a tarball that decompresses past the fixed cap", async () => {
    const body = Readable.from([await tarGz(good)]);
    const report = await checkVeleroTarball(body, { ...TARBALL_LIMITS, maxBytes: 4096 });
    expect(report.ok).toBe(false);
    expect(report.problems.join("\n")).toMatch(/decompresses to more than 4096 bytes/);
  });
});

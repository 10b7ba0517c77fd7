// The Velero tarball structural check (kots-velero.md §6) on tarballs built here with tar-stream.
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { checkVeleroTarball } from "@kots-backup/adapters/tarball";
import { pack } from "tar-stream";
import { describe, expect, it } from "vitest";

async function tarGz(entries: Array<{ name: string; body: string }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => p.on("end", () => resolve()));
  for (const entry of entries) p.entry({ name: entry.name, mode: 0o755 }, entry.body);
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
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

const check = async (entries: Array<{ name: string; body: string }>) =>
  checkVeleroTarball(Readable.from([await tarGz(entries)]));

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
      /unexpected path resources\/pods\/stray\.json/,
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
});

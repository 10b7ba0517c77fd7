// The export engine with S3 on the moto peer: server-side copy BSL bucket → export bucket (single-part
// CopyObject and multipart UploadPartCopy), streamed uploads (multipart for large objects), and the
// proof that a failed export leaves no manifest and no open multipart upload; bad keys in a BSL on S3.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { readManifest } from "@kots-backup/adapters/export/engine";
import { crc32Base64 } from "@kots-backup/adapters/store/hashing";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { afterEach, expect, it } from "vitest";
import { type S3FaultProxy, startS3FaultProxy } from "../reliability/support/s3-fault-proxy.ts";
import { describeWithMoto, motoClientConfig, motoEndpoint } from "../support/peers.ts";
import {
  addBulkyConfigMaps,
  caught,
  type ExportEnv,
  keysOf,
  localDestination,
  motoStore,
  openExportEnv,
  readAll,
  readBackAsBsl,
  removeTempFolders,
} from "./support.ts";

const MiB = 1024 * 1024;
let env: ExportEnv | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
  removeTempFolders();
});

/** A fresh moto bucket reached through the S3 fault proxy (which also records every request). */
async function motoStoreBehindProxy(prefix: string): Promise<{ dest: S3Store; proxy: S3FaultProxy }> {
  const direct = await motoStore(prefix);
  const proxy = await startS3FaultProxy(motoEndpoint());
  const client = new S3Client({ ...motoClientConfig(), endpoint: proxy.url, forcePathStyle: true });
  return { dest: new S3Store({ bucket: direct.bucket, prefix, client }), proxy };
}

const sha256Hex = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function bslOnMoto(): Promise<{ bsl: S3Store; env: ExportEnv }> {
  const bsl = await motoStore("velero");
  const opened = await openExportEnv({ store: bsl, bucket: bsl.bucket });
  return { bsl, env: opened };
}

describeWithMoto("export to S3 (moto)", () => {
  it("full scope, server-side: CopyObject and UploadPartCopy, S3's own SHA-256 matches the source's", async () => {
    const opened = await bslOnMoto();
    env = opened.env;
    addBulkyConfigMaps(env, 4, 900 * 1024); // a tarball of several MiB: copied in 5 MiB parts
    await env.sandbox.scenario.addBackup({ name: "instance-s3srv" });
    const dest = await motoStore("exports/prod");
    const result = await env.run({ backup: "instance-s3srv" }, dest, {
      serverSideCopy: true,
      copyOptions: { multipartThreshold: 5 * MiB, partSize: 5 * MiB },
      bsl: { name: "default", location: opened.bsl.location },
    });
    expect(result).toMatchObject({
      scope: "full",
      verified: true,
      alreadyExported: false,
      destination: dest.location,
    });
    const tarballKey = "velero/backups/instance-s3srv/instance-s3srv.tar.gz";
    const tarballSize = (await dest.head(tarballKey))?.size ?? 0;
    expect(tarballSize).toBeGreaterThan(5 * MiB);

    const manifest = await readManifest(dest, result.manifestKey);
    expect(manifest?.source.location).toBe(opened.bsl.location);
    for (const object of manifest!.objects) {
      const sourceKey = object.key.slice("velero/".length);
      const sourceBytes = await readAll(opened.bsl, sourceKey);
      expect(object.sha256).toBe(createHash("sha256").update(sourceBytes).digest("hex"));
      if (object.key !== tarballKey) {
        // Single-part copies: S3 computed a full-object SHA-256 while copying.
        expect((await dest.statedChecksums(object.key))?.sha256).toBe(object.sha256);
      }
    }
    await readBackAsBsl(dest, "instance-s3srv");
    expect(await dest.listMultipartUploads()).toEqual([]);

    const again = await env.run({ backup: "instance-s3srv" }, dest, { serverSideCopy: true });
    expect(again.alreadyExported).toBe(true);
  });

  it("server-side copy of a BSL written as Velero's AWS plugin does (CRC32, no SHA-256): the source is hashed by reading it", async () => {
    const opened = await bslOnMoto();
    env = opened.env;
    await env.sandbox.scenario.addBackup({ name: "instance-crc32" });
    // Rewrite every BSL object with a plain PutObject: the SDK's default checksum (CRC32), no SHA-256.
    for (const key of await keysOf(opened.bsl)) {
      const body = await readAll(opened.bsl, key);
      await opened.bsl.client.send(
        new PutObjectCommand({ Bucket: opened.bsl.bucket, Key: opened.bsl.fullKey(key), Body: body }),
      );
      expect((await opened.bsl.statedChecksums(key))?.sha256).toBeUndefined();
    }
    const dest = await motoStore("crc");
    const result = await env.run({ backup: "instance-crc32" }, dest, { serverSideCopy: true });
    expect(result.verified).toBe(true);
    const manifest = await readManifest(dest, result.manifestKey);
    for (const object of manifest!.objects) {
      const bytes = await readAll(opened.bsl, object.key.slice("velero/".length));
      expect(object.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
  });

  it("full scope, streamed from another store into S3 (multipart for the large tarball), verified by reading back", async () => {
    env = await openExportEnv();
    addBulkyConfigMaps(env, 8, 900 * 1024);
    await env.sandbox.scenario.addBackup({ name: "instance-s3str" });
    const dest = await motoStore("streamed");
    const result = await env.run({ backup: "instance-s3str" }, dest);
    expect(result).toMatchObject({ scope: "full", verified: true, copiedObjects: result.objects });
    expect((await dest.head("velero/backups/instance-s3str/instance-s3str.tar.gz"))?.size).toBeGreaterThan(
      8 * MiB,
    );
    await readBackAsBsl(dest, "instance-s3str");
    const second = await env.run({ backup: "instance-s3str" }, dest);
    expect(second.alreadyExported).toBe(true);
  });

  it("a large repository blob streamed into S3 is verified by S3's own full-object CRC-32, not read back", async () => {
    env = await openExportEnv();
    const blob = randomBytes(20 * MiB);
    await env.sandbox.store.put("kopia/default/p-big-blob", blob);
    await env.sandbox.scenario.addBackup({ name: "instance-crcok" });
    const { dest, proxy } = await motoStoreBehindProxy("crc-ok");
    try {
      const result = await env.run({ backup: "instance-crcok" }, dest);
      expect(result.verified).toBe(true);
      const key = "velero/kopia/default/p-big-blob";
      const stated = await dest.statedChecksums(key);
      expect(stated?.crc32).toBe(crc32Base64(crc32(blob)));
      const manifest = await readManifest(dest, result.manifestKey);
      expect(manifest?.objects.find((o) => o.key === key)?.sha256).toBe(sha256Hex(blob));
      const uploads = proxy.requests.filter((r) => r.path.endsWith("/p-big-blob"));
      expect(uploads.filter((r) => r.operation === "UploadPart").length).toBe(3);
      expect(uploads.filter((r) => r.operation === "GetObject")).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("a part damaged on its way to S3 and stored anyway: S3's CRC-32 disagrees, the export fails, nothing kept", async () => {
    env = await openExportEnv();
    await env.sandbox.store.put("kopia/default/p-big-blob", randomBytes(20 * MiB));
    await env.sandbox.scenario.addBackup({ name: "instance-crcbad" });
    const { dest, proxy } = await motoStoreBehindProxy("crc-bad");
    try {
      proxy.add({
        match: { method: "PUT", path: /p-big-blob$/, query: "partNumber=2" },
        corrupt: true,
        times: 1,
      });
      const error = await caught(env.run({ backup: "instance-crcbad" }, dest));
      expect(error).toMatchObject({ code: "export-verification-failed", exitCode: 1 });
      expect(error.message).toContain("CRC-32");
      expect(await dest.head("velero/kopia/default/p-big-blob")).toBeUndefined();
      expect(await keysOf(dest, "manifests/")).toEqual([]);
      expect(await dest.listMultipartUploads()).toEqual([]);
      expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);
    } finally {
      await proxy.close();
    }
  });

  it.each([
    ["truncated", { truncateAfterBytes: 9 * MiB }],
    ["corrupted", { corrupt: true }],
  ])(
    "a %s download into S3: exit 1, no manifest, no tarball, no open multipart upload",
    async (_label, fault) => {
      env = await openExportEnv();
      addBulkyConfigMaps(env, 8, 900 * 1024);
      await env.sandbox.scenario.addBackup({ name: "instance-s3flt" });
      env.sandbox.faults.add({ target: "download", path: ".tar.gz", ...fault });
      const dest = await motoStore("faulty");
      const error = await caught(env.run({ backup: "instance-s3flt", scope: "manifests" }, dest));
      expect(error.exitCode).toBe(1);
      expect(await dest.head("manifests/instance-s3flt.json")).toBeUndefined();
      expect(await dest.head("velero/backups/instance-s3flt/instance-s3flt.tar.gz")).toBeUndefined();
      expect(await keysOf(dest, "velero/backups/")).toEqual([]); // no velero-backup.json: Velero lists nothing
      expect(await dest.listMultipartUploads()).toEqual([]);
      expect(await keysOf(dest, "manifests/")).toEqual([]);
      expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);
    },
  );

  it("bad keys in a BSL on S3, exported to a local folder: repository ones skipped and named in the manifest; one in the backup's folder fails with exit 1 before any write", async () => {
    const opened = await bslOnMoto();
    env = opened.env;
    const { bsl } = opened;
    const raw = (key: string, body: string) =>
      bsl.client.send(new PutObjectCommand({ Bucket: bsl.bucket, Key: bsl.fullKey(key), Body: body }));
    await env.sandbox.scenario.addBackup({ name: "instance-s3bad" });
    const dotdot = "kopia/default/../escaped";
    const long = `kopia/default/q${"f".repeat(299)}`;
    await raw(dotdot, "not a kopia blob");
    await raw(long, "not a kopia blob either");
    expect(await keysOf(bsl, "kopia/")).toEqual(expect.arrayContaining([dotdot, long]));
    const dest = localDestination();
    const result = await env.run({ backup: "instance-s3bad" }, dest);
    const skipped = [
      { key: dotdot, reason: "not a valid object key (has a .. segment)" },
      {
        key: long,
        reason: expect.stringMatching(/^file:\/\/.* cannot store it \(has a path segment of 300 bytes/),
      },
    ];
    expect(result).toMatchObject({ verified: true, skipped });
    expect(await readManifest(dest, result.manifestKey)).toMatchObject({ skipped });
    expect(existsSync(join(dest.root, "velero", "escaped"))).toBe(false);
    await readBackAsBsl(dest, "instance-s3bad");

    await env.sandbox.scenario.addBackup({ name: "instance-s3bd2" });
    await raw("backups/instance-s3bd2/../instance-s3bd2-extra.json", "{}");
    const error = await caught(env.run({ backup: "instance-s3bd2" }, dest));
    expect(error).toMatchObject({ code: "source-key-invalid", exitCode: 1 });
    expect(error.message).toContain('"backups/instance-s3bd2/../instance-s3bd2-extra.json"');
    expect(await keysOf(dest, "velero/backups/instance-s3bd2/")).toEqual([]);
    expect(await dest.head("manifests/instance-s3bd2.json")).toBeUndefined();
  });
});

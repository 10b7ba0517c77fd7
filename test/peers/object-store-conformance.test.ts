// One behaviour suite for every ObjectStore: MemoryStore, LocalFolderStore on a temp folder, and
// S3Store on the moto peer. A store that passes can stand in for the others.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  ListPartsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { ObjectStore } from "@kots-backup/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ChecksumMismatchError,
  NotFoundError,
  PreconditionFailedError,
} from "../../packages/adapters/src/store/errors.ts";
import { LOCAL_META_DIR, LocalFolderStore } from "../../packages/adapters/src/store/local-folder.ts";
import { MemoryStore } from "../../packages/adapters/src/store/memory.ts";
import { S3Store } from "../../packages/adapters/src/store/s3.ts";
import { describeWithMoto, motoS3, uniqueBucketName } from "../support/peers.ts";
import { eventually } from "../support/wait.ts";
import { generated, MiB } from "./streams.ts";

interface Harness {
  store: ObjectStore;
  readTags(key: string): Promise<Record<string, string> | undefined>;
  /** Resolves true once some of an in-progress write of `key` has reached the store; undefined = n/a. */
  writeInProgress?(key: string): Promise<boolean>;
  /** Whether put/get stream (false: the store holds whole objects in memory by design). */
  streams: boolean;
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

function storeConformance(name: string, setup: () => Promise<Harness>) {
  describe(name, () => {
    let h: Harness;
    let store: ObjectStore;
    beforeAll(async () => {
      h = await setup();
      store = h.store;
    });

    it("head of a missing key is undefined; get of a missing key throws NotFoundError", async () => {
      expect(await store.head("missing/key.json")).toBeUndefined();
      await expect(store.get("missing/key.json")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("put then head and get: size, etag, sha256 of the content", async () => {
      const body = Buffer.from('{"hello":"world"}');
      const put = await store.put("basic/object.json", body, { contentType: "application/json" });
      expect(put).toMatchObject({ key: "basic/object.json", size: body.length, sha256: sha256(body) });
      const head = await store.head("basic/object.json");
      expect(head).toMatchObject({
        key: "basic/object.json",
        size: body.length,
        etag: put.etag,
        sha256: sha256(body),
      });
      expect((await readAll(await store.get("basic/object.json"))).equals(body)).toBe(true);
    });

    it("put of a string stores its UTF-8 bytes", async () => {
      await store.put("basic/text.txt", "grüße");
      expect((await readAll(await store.get("basic/text.txt"))).toString("utf8")).toBe("grüße");
      expect((await store.head("basic/text.txt"))?.sha256).toBe(sha256("grüße"));
    });

    it("an empty object round-trips", async () => {
      await store.put("basic/empty", Buffer.alloc(0));
      expect(await store.head("basic/empty")).toMatchObject({ size: 0, sha256: sha256("") });
      expect((await readAll(await store.get("basic/empty"))).length).toBe(0);
    });

    it("overwriting changes the etag and the content", async () => {
      const first = await store.put("basic/overwrite", "one");
      const second = await store.put("basic/overwrite", "two!");
      expect(second.etag).not.toBe(first.etag);
      expect((await store.head("basic/overwrite"))?.etag).toBe(second.etag);
      expect((await readAll(await store.get("basic/overwrite"))).toString()).toBe("two!");
    });

    it("create-only: the first put wins, the second throws PreconditionFailedError and changes nothing", async () => {
      await store.put("cond/create", "first", { ifNoneMatch: true });
      await expect(store.put("cond/create", "second", { ifNoneMatch: true })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect((await readAll(await store.get("cond/create"))).toString()).toBe("first");
    });

    it("create-only: of 10 concurrent puts exactly one wins", async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.put("cond/race", `writer ${i}`, { ifNoneMatch: true })),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect(r.reason).toBeInstanceOf(PreconditionFailedError);
      }
    });

    it("If-Match: the current etag replaces, a stale one throws PreconditionFailedError", async () => {
      const v1 = await store.put("cond/match", "v1");
      const v2 = await store.put("cond/match", "v2", { ifMatch: v1.etag });
      await expect(store.put("cond/match", "v3", { ifMatch: v1.etag })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect((await store.head("cond/match"))?.etag).toBe(v2.etag);
      expect((await readAll(await store.get("cond/match"))).toString()).toBe("v2");
    });

    it("If-Match on a missing key throws PreconditionFailedError", async () => {
      await expect(store.put("cond/absent", "x", { ifMatch: '"whatever"' })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect(await store.head("cond/absent")).toBeUndefined();
    });

    it("If-Match: of 10 concurrent writers holding the same etag exactly one wins", async () => {
      const base = await store.put("cond/match-race", "base");
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          store.put("cond/match-race", `writer ${i}`, { ifMatch: base.etag }),
        ),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    });

    it("a put whose body does not match the given sha256 is refused and stores nothing", async () => {
      await expect(
        store.put("integrity/wrong", "actual", { sha256: sha256("expected") }),
      ).rejects.toBeInstanceOf(ChecksumMismatchError);
      expect(await store.head("integrity/wrong")).toBeUndefined();
    });

    it("a put with the right sha256 succeeds", async () => {
      const info = await store.put("integrity/right", "actual", { sha256: sha256("actual") });
      expect(info.sha256).toBe(sha256("actual"));
    });

    it("list: only keys under the prefix, sorted by key (byte order), with sizes and head's etags", async () => {
      const keys = ["list/b", "list/a-c", "list/a/b", "list/a0", "list/a/a/deep", "list/Z", "lister/not-me"];
      for (const key of keys) await store.put(key, key);
      const listed = await collect(store.list("list/"));
      expect(listed.map((o) => o.key)).toEqual([
        "list/Z",
        "list/a-c",
        "list/a/a/deep",
        "list/a/b",
        "list/a0",
        "list/b",
      ]);
      for (const info of listed) {
        expect(info.size).toBe(Buffer.byteLength(info.key));
        expect(info.etag).toBe((await store.head(info.key))?.etag);
      }
      expect((await collect(store.list("list/a/"))).map((o) => o.key)).toEqual(["list/a/a/deep", "list/a/b"]);
      expect((await collect(store.list("list/a"))).map((o) => o.key)).toEqual([
        "list/a-c",
        "list/a/a/deep",
        "list/a/b",
        "list/a0",
      ]);
      expect(await collect(store.list("nothing-here/"))).toEqual([]);
    });

    it("delete removes the object; deleting a missing key is fine", async () => {
      await store.put("del/object", "x");
      await store.delete("del/object");
      expect(await store.head("del/object")).toBeUndefined();
      expect(await collect(store.list("del/"))).toEqual([]);
      await store.delete("del/object");
    });

    it("tags: set on put, replaced by setTags; setTags on a missing key throws NotFoundError", async () => {
      await store.put("tags/object", "x", { tags: { "kots-backup/tier": "hot", app: "my app" } });
      expect(await h.readTags("tags/object")).toEqual({ "kots-backup/tier": "hot", app: "my app" });
      await store.setTags("tags/object", { "kots-backup/tier": "cold" });
      expect(await h.readTags("tags/object")).toEqual({ "kots-backup/tier": "cold" });
      await expect(store.setTags("tags/missing", { a: "b" })).rejects.toBeInstanceOf(NotFoundError);
    });

    it("invalid keys are refused", async () => {
      for (const key of ["", "/abs", "a/../b", "../up", "a//b", "a/./b", "trailing/"]) {
        await expect(store.put(key, "x"), key).rejects.toMatchObject({ code: "invalid-object-key" });
      }
    });

    it("a 20 MiB stream: put returns its sha256, get streams it back intact, head's sha256 (if any) matches", async () => {
      const key = "big/stream.bin";
      let inProgress: boolean | undefined;
      const source = generated(20 * MiB, "conformance", async () => {
        if (h.writeInProgress)
          inProgress = await eventually(
            () => h.writeInProgress!(key),
            `bytes of ${key} in the store`,
            50,
          ).then(
            () => true,
            () => false,
          );
      });
      const put = await store.put(key, source.stream);
      const expected = source.sha256();
      expect(put).toMatchObject({ size: 20 * MiB, sha256: expected });
      if (h.writeInProgress) expect(inProgress, "bytes reached the store before the body ended").toBe(true);
      const head = await store.head(key);
      expect(head?.size).toBe(20 * MiB);
      if (head?.sha256 !== undefined) expect(head.sha256).toBe(expected);
      const hash = createHash("sha256");
      let bytes = 0;
      let largestChunk = 0;
      for await (const chunk of await store.get(key)) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        largestChunk = Math.max(largestChunk, (chunk as Buffer).length);
      }
      expect(bytes).toBe(20 * MiB);
      expect(hash.digest("hex")).toBe(expected);
      if (h.streams) expect(largestChunk).toBeLessThanOrEqual(8 * MiB);
    });

    it("a 20 MiB stream with a caller sha256: head reports it", async () => {
      const probe = generated(20 * MiB, "with-hash");
      await collect(probe.stream);
      const sum = probe.sha256();
      const put = await store.put("big/with-hash.bin", generated(20 * MiB, "with-hash").stream, {
        sha256: sum,
      });
      expect(put.sha256).toBe(sum);
      expect((await store.head("big/with-hash.bin"))?.sha256).toBe(sum);
    });

    it("a 20 MiB stream with a wrong caller sha256 is refused and stores nothing", async () => {
      const put = store.put("big/wrong-hash.bin", generated(20 * MiB, "wrong").stream, {
        sha256: sha256("nope"),
      });
      await expect(put).rejects.toBeInstanceOf(ChecksumMismatchError);
      expect(await store.head("big/wrong-hash.bin")).toBeUndefined();
    });
  });
}

storeConformance("MemoryStore", async () => {
  const store = new MemoryStore("conformance");
  return { store, readTags: async (key) => store.tagsOf(key), streams: false };
});

describe("LocalFolderStore", () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  storeConformance("conformance", async () => {
    dir = await mkdtemp(join(tmpdir(), "kb-local-store-"));
    const store = new LocalFolderStore(dir);
    return {
      store,
      readTags: (key) => store.tagsOf(key),
      streams: true,
      writeInProgress: async () => {
        const tmp = join(dir, LOCAL_META_DIR, "tmp");
        for (const name of await readdir(tmp).catch(() => [] as string[])) {
          if (name.endsWith(".part") && (await stat(join(tmp, name))).size > 0) return true;
        }
        return false;
      },
    };
  });
});

describeWithMoto("S3Store on moto", () => {
  let s3: S3Client;
  storeConformance("conformance", async () => {
    s3 = motoS3();
    const bucket = uniqueBucketName("store");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3Store({ bucket, prefix: "exports/cluster-a", client: s3 });
    return {
      store,
      streams: true,
      readTags: async (key) => {
        const out = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: store.fullKey(key) }));
        return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key, t.Value]));
      },
      writeInProgress: async (key) => {
        const uploads = await store.listMultipartUploads(key);
        for (const u of uploads) {
          const parts = await s3.send(
            new ListPartsCommand({ Bucket: bucket, Key: store.fullKey(u.key), UploadId: u.uploadId }),
          );
          if ((parts.Parts ?? []).length > 0) return true;
        }
        return false;
      },
    };
  });
});

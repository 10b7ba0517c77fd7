// LocalFolderStore specifics beyond the shared ObjectStore suite (test/peers/object-store-conformance):
// on-disk layout, hidden metadata, files changed behind the store's back, and lock handling.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { InputError } from "@kots-backup/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PreconditionFailedError } from "./errors.ts";
import { LOCAL_META_DIR, LocalFolderStore } from "./local-folder.ts";

async function keys(store: LocalFolderStore, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out;
}

describe("LocalFolderStore", () => {
  let dir: string;
  let store: LocalFolderStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kb-local-"));
    store = new LocalFolderStore(join(dir, "dest"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keys map to files under the root, `/` to folders; location is a file:// URL", async () => {
    await store.put("velero/backups/b1/b1.tar.gz", "bytes");
    expect(await readFile(join(dir, "dest", "velero", "backups", "b1", "b1.tar.gz"), "utf8")).toBe("bytes");
    expect(store.location).toBe(`file://${join(dir, "dest")}`);
  });

  it("the metadata folder is never listed, and cannot be written through the store", async () => {
    await store.put("a", "1", { tags: { t: "v" } });
    expect(await readdir(join(dir, "dest"))).toContain(LOCAL_META_DIR);
    expect(await keys(store)).toEqual(["a"]);
    expect(await keys(store, LOCAL_META_DIR)).toEqual([]);
    await expect(store.put(`${LOCAL_META_DIR}/objects/x`, "x")).rejects.toBeInstanceOf(InputError);
    await expect(store.head(`${LOCAL_META_DIR}/tmp/x`)).rejects.toBeInstanceOf(InputError);
  });

  it("a key cannot be both an object and a folder", async () => {
    await store.put("a/b", "x");
    await expect(store.put("a", "y")).rejects.toMatchObject({ code: "local-store-key-conflict" });
    await store.put("c", "x");
    await expect(store.put("c/d", "y")).rejects.toMatchObject({ code: "local-store-key-conflict" });
    expect(await store.head("a")).toBeUndefined();
  });

  it("a file replaced behind the store's back gets a new etag and no sha256", async () => {
    const put = await store.put("edited.txt", "original");
    await writeFile(join(dir, "dest", "edited.txt"), "changed by hand");
    const head = await store.head("edited.txt");
    expect(head?.etag).not.toBe(put.etag);
    expect(head?.sha256).toBeUndefined();
    expect(head?.size).toBe("changed by hand".length);
    await expect(store.put("edited.txt", "mine", { ifMatch: put.etag })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await store.put("edited.txt", "mine", { ifMatch: head!.etag });
  });

  it("files dropped into the folder by hand are listed and readable", async () => {
    await mkdir(join(dir, "dest", "manual"), { recursive: true });
    await writeFile(join(dir, "dest", "manual", "note.txt"), "hello");
    expect(await keys(store, "manual/")).toEqual(["manual/note.txt"]);
    expect(await store.head("manual/note.txt")).toMatchObject({
      size: 5,
      etag: expect.stringMatching(/^"stat-/),
    });
  });

  it("rewriting identical bytes still changes the etag", async () => {
    const a = await store.put("same", "x");
    const b = await store.put("same", "x");
    expect(b.etag).not.toBe(a.etag);
    expect(b.sha256).toBe(a.sha256);
  });

  it("a stale lock left by a crashed writer is broken", async () => {
    const fast = new LocalFolderStore(join(dir, "dest"), { lockStaleMs: 1_000, lockWaitMs: 10_000 });
    await fast.put("locked", "v1");
    expect(await readdir(join(dir, "dest", LOCAL_META_DIR, "locks"))).toEqual([]); // released after the write
    // Leave a lock as a crashed process would, dated a minute ago.
    const lockPath = lockPathOf(fast, "locked");
    await writeFile(lockPath, "99999@crashed-host\n");
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    await fast.put("locked", "v2");
    expect(await readFile(join(dir, "dest", "locked"), "utf8")).toBe("v2");
  });

  it("a live lock makes a writer wait, then give up with a clear EnvironmentError", async () => {
    const impatient = new LocalFolderStore(join(dir, "dest"), { lockStaleMs: 60_000, lockWaitMs: 200 });
    await impatient.put("busy", "v1");
    const lockPath = lockPathOf(impatient, "busy");
    await writeFile(lockPath, "12345@other-host\n");
    await expect(impatient.put("busy", "v2")).rejects.toMatchObject({
      code: "local-store-lock-timeout",
      exitCode: 3,
    });
    expect(await readFile(join(dir, "dest", "busy"), "utf8")).toBe("v1");
    await rm(lockPath);
    await impatient.put("busy", "v2");
  });

  it("leaves no temp files behind after successful, refused and failed writes", async () => {
    await store.put("t/ok", "x");
    await store.put("t/ok", "y", { ifNoneMatch: true }).catch(() => {});
    await store.put("t/bad", "y", { sha256: "0".repeat(64) }).catch(() => {});
    expect(await readdir(join(dir, "dest", LOCAL_META_DIR, "tmp"))).toEqual([]);
  });

  it("a key that does not fit the file system is refused before any byte is written", async () => {
    const long = `velero/kopia/default/${"p".repeat(300)}`;
    expect(store.keyProblem(long)).toMatch(/path segment of 300 bytes/);
    expect(store.keyProblem("velero/kopia/default/../x")).toMatch(/\.\. segment/);
    expect(store.keyProblem(`a/${"b".repeat(255)}`)).toBeUndefined();
    await expect(store.put(long, "x")).rejects.toMatchObject({ code: "invalid-object-key", exitCode: 2 });
    // Keys are at most 1024 bytes: the whole path passes 4095 bytes under a deep folder.
    const deepRoot = new LocalFolderStore(join(dir, ...Array.from({ length: 16 }, () => "r".repeat(200))));
    const deep = Array.from({ length: 4 }, () => "d".repeat(250)).join("/");
    expect(store.keyProblem(deep)).toBeUndefined();
    expect(deepRoot.keyProblem(deep)).toMatch(/paths are limited to 4095/);
    expect(await keys(store)).toEqual([]);
  });

  it("sweeps temporary files a killed process left, never a live writer's", async () => {
    const tmp = join(dir, "dest", LOCAL_META_DIR, "tmp");
    await store.put("first", "x"); // creates the folders (and sweeps, finding nothing)
    // A live write in another instance (as another process would): its body is still streaming.
    const body = new PassThrough();
    const live = store.put("live/object", body);
    body.write(Buffer.alloc(64 * 1024, 1));
    while ((await readdir(tmp)).length === 0) await new Promise((r) => setTimeout(r, 5));
    const [livePart] = await readdir(tmp);
    // What SIGKILLed writers leave: partial bodies and a sidecar, untouched for two hours.
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const name of ["killed-1.part", "killed-2.part", "killed-3.meta"]) {
      await writeFile(join(tmp, name), Buffer.alloc(1024));
      await utimes(join(tmp, name), old, old);
    }
    // A fresh one, as another process's write that has just started, and a file of another kind.
    await writeFile(join(tmp, "fresh.part"), "just started");
    await writeFile(join(tmp, "notes.txt"), "not ours");
    await utimes(join(tmp, "notes.txt"), old, old);

    const next = new LocalFolderStore(join(dir, "dest")); // the next run
    await next.put("second", "y");
    expect((await readdir(tmp)).sort()).toEqual([livePart, "fresh.part", "notes.txt"].sort());

    body.end(Buffer.alloc(64 * 1024, 2));
    const written = await live;
    expect(written.size).toBe(128 * 1024);
    expect((await readFile(join(dir, "dest", "live", "object"))).subarray(-1)[0]).toBe(2);
    expect((await readdir(tmp)).sort()).toEqual(["fresh.part", "notes.txt"]);
  });

  it("sweeps again only once the stale age has passed", async () => {
    const quick = new LocalFolderStore(join(dir, "dest"), { tempStaleMs: 200 });
    await quick.put("a", "1");
    const tmp = join(dir, "dest", LOCAL_META_DIR, "tmp");
    await writeFile(join(tmp, "killed.part"), "x");
    const old = new Date(Date.now() - 60_000);
    await utimes(join(tmp, "killed.part"), old, old);
    await quick.put("b", "2");
    expect(await readdir(tmp)).toEqual(["killed.part"]); // swept 0 ms ago: not yet
    await new Promise((r) => setTimeout(r, 250));
    await quick.put("c", "3");
    expect(await readdir(tmp)).toEqual([]);
  });
});

/** The lock file the store uses for a key (`.kots-backup-meta/locks/<sha256(key)>.lock`). */
function lockPathOf(store: LocalFolderStore, key: string): string {
  return join(store.root, LOCAL_META_DIR, "locks", `${createHash("sha256").update(key).digest("hex")}.lock`);
}

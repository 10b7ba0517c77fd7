// The export engine against the sandbox (BSL in memory, DownloadRequests over the API) into a local
// folder: the streamed path, the manifests scope, faults, resume, idempotence and retention; the write
// order (velero-backup.json last), what a failure leaves, bad source keys and stale temporary files.
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { readManifest } from "@kots-backup/adapters/export/engine";
import { LOCAL_META_DIR, type LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import type { ObjectStore } from "@kots-backup/core";
import { EXPIRABLE_TAG } from "@kots-backup/core/retention";
import { afterEach, describe, expect, it } from "vitest";
import {
  caught,
  type ExportEnv,
  keysOf,
  localDestination,
  openExportEnv,
  readAll,
  readBackAsBsl,
  removeTempFolders,
} from "./support.ts";

let env: ExportEnv | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
  removeTempFolders();
});

describe("export to a local folder (streamed)", () => {
  it("exports a Completed backup in full scope: backup objects + kopia repository, verified, manifest last", async () => {
    env = await openExportEnv();
    const backup = await env.sandbox.scenario.addBackup({ name: "instance-abcde" });
    const dest = localDestination();
    const progress: number[] = [];
    const result = await env.run({ backup: backup.metadata.name! }, dest, {
      progress: (p) => progress.push(p.doneBytes),
    });

    expect(result).toMatchObject({
      backup: "instance-abcde",
      scope: "full",
      destination: dest.location,
      manifestKey: "manifests/instance-abcde.json",
      verified: true,
      alreadyExported: false,
      skippedObjects: 0,
      volumeData: "included",
    });
    expect(result.copiedObjects).toBe(result.objects);
    expect(result.copiedBytes).toBe(result.bytes);
    const sourceKeys = await keysOf(env.sandbox.store);
    expect(result.objects).toBe(sourceKeys.length);
    expect((await keysOf(dest, "velero/")).sort()).toEqual(sourceKeys.map((k) => `velero/${k}`).sort());
    expect(sourceKeys.some((k) => k.startsWith("kopia/default/"))).toBe(true);
    expect(progress.at(-1)).toBe(result.bytes);

    const manifest = await readManifest(dest, result.manifestKey);
    expect(manifest).toMatchObject({
      backup: "instance-abcde",
      type: "full",
      scope: "full",
      volumeData: "included",
      phase: "Completed",
      partiallyFailed: false,
      source: { cluster: "test", veleroNamespace: "velero", bsl: "default", location: "memory://velero-bsl" },
      totals: { objects: result.objects, bytes: result.bytes },
    });
    expect(manifest?.completedAt).toBeDefined();
    expect(env.events.map((e) => e.detailType)).toEqual(["Export Completed"]);
    await readBackAsBsl(dest, "instance-abcde");
    // The source is untouched.
    expect((await keysOf(env.sandbox.store)).sort()).toEqual(sourceKeys.sort());
  });

  it("re-exporting a verified export is a no-op: alreadyExported, nothing copied, manifest not rewritten", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-again" });
    const dest = localDestination();
    const first = await env.run({ backup: "instance-again" }, dest);
    const etag = (await dest.head(first.manifestKey))?.etag;
    const second = await env.run({ backup: "instance-again" }, dest);
    expect(second).toMatchObject({
      alreadyExported: true,
      verified: true,
      copiedObjects: 0,
      copiedBytes: 0,
      objects: first.objects,
      bytes: first.bytes,
    });
    expect((await dest.head(first.manifestKey))?.etag).toBe(etag);
  });

  it("mirrors a grown kopia repository incrementally: the second export copies only the new blobs", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-first" });
    const dest = localDestination();
    await env.run({ backup: "instance-first" }, dest);
    const repoBefore = new Set(await keysOf(env.sandbox.store, "kopia/"));
    await env.sandbox.scenario.addBackup({ name: "instance-second" });
    const repoAfter = await keysOf(env.sandbox.store, "kopia/");
    const newBlobs = repoAfter.filter((k) => !repoBefore.has(k));
    expect(newBlobs.length).toBeGreaterThan(0);
    const backupObjects = (await keysOf(env.sandbox.store, "backups/instance-second/")).length;

    // Count the per-object calls the second export makes on the BSL for blobs it mirrored before.
    const touched: string[] = [];
    const source = env.sandbox.store;
    const counting: ObjectStore = new Proxy(source, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === "head" || prop === "get") {
          return (key: string) => {
            if (repoBefore.has(key)) touched.push(`${String(prop)} ${key}`);
            return (value as (k: string) => unknown).call(target, key);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const second = await env.run({ backup: "instance-second" }, dest, { source: { store: counting } });
    // The mirror index (state/mirror/…) vouches for them from the two listings alone.
    expect(touched).toEqual([]);
    expect(await dest.head(`state/mirror/memory-velero-bsl.json`)).toBeDefined();
    expect(second.copiedObjects).toBe(backupObjects + newBlobs.length);
    expect(second.skippedObjects).toBe(repoBefore.size);
    expect(second.objects).toBe(backupObjects + repoAfter.length);
    await readBackAsBsl(dest, "instance-second");
    await readBackAsBsl(dest, "instance-first");
  });

  it("does not trust the mirror index for a blob changed at the destination: it is copied again", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-tamp1" });
    const dest = localDestination();
    await env.run({ backup: "instance-tamp1" }, dest);
    const blob = (await keysOf(dest, "velero/kopia/")).find((k) => k.includes("/p"));
    expect(blob).toBeDefined();
    const original = await readAll(dest, blob!);
    writeFileSync(join(dest.root, ...blob!.split("/")), Buffer.alloc(original.length, 0x41)); // same size, other bytes
    await env.sandbox.scenario.addBackup({ name: "instance-tamp2" });
    await env.run({ backup: "instance-tamp2" }, dest);
    expect((await readAll(dest, blob!)).equals(original)).toBe(true);
    await readBackAsBsl(dest, "instance-tamp2");
  });

  it("exports in manifests scope from DownloadRequests, says volume data is absent, and reads back as a BSL", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-mnfst" });
    const dest = localDestination();
    const result = await env.run({ backup: "instance-mnfst", scope: "manifests" }, dest);
    expect(result).toMatchObject({
      scope: "manifests",
      volumeData: "absent",
      verified: true,
      objects: 5,
      copiedObjects: 5,
    });
    expect((await keysOf(dest, "velero/")).sort()).toEqual(
      [
        "velero/backups/instance-mnfst/instance-mnfst-logs.gz",
        "velero/backups/instance-mnfst/instance-mnfst-resource-list.json.gz",
        "velero/backups/instance-mnfst/instance-mnfst-results.gz",
        "velero/backups/instance-mnfst/instance-mnfst.tar.gz",
        "velero/backups/instance-mnfst/velero-backup.json",
      ].sort(),
    );
    // The downloaded files are byte-identical to the BSL's.
    for (const file of ["instance-mnfst.tar.gz", "instance-mnfst-logs.gz"]) {
      expect(
        (await readAll(dest, `velero/backups/instance-mnfst/${file}`)).equals(
          await readAll(env.sandbox.store, `backups/instance-mnfst/${file}`),
        ),
      ).toBe(true);
    }
    expect((await readManifest(dest, result.manifestKey))?.volumeData).toBe("absent");
    await readBackAsBsl(dest, "instance-mnfst");
  });

  it("auto scope falls back to manifests when the BSL cannot be read, and says why", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-autom" });
    const logs: string[] = [];
    const result = await env.run({ backup: "instance-autom" }, localDestination(), {
      source: undefined,
      sourceUnavailable: "no export.bsl credentials",
      log: (_level, message) => logs.push(message),
    });
    expect(result.scope).toBe("manifests");
    expect(logs.some((l) => l.includes("volume data is NOT included"))).toBe(true);
  });

  it("recovers from an expired signed URL by requesting a new one", async () => {
    env = await openExportEnv();
    const t = env;
    await t.sandbox.scenario.addBackup({ name: "instance-expir" });
    let expired = 0;
    const downloads = {
      requestUrl: async (kind: Parameters<typeof t.downloads.requestUrl>[0], name: string) => {
        const url = await t.downloads.requestUrl(kind, name);
        if (expired === 0 && kind === "BackupContents") {
          expired += 1;
          await t.sandbox.clock.advance(11 * 60 * 1000); // past Velero's 10-minute DownloadURLTTL
        }
        return url;
      },
      open: t.downloads.open.bind(t.downloads),
    };
    const result = await t.run({ backup: "instance-expir", scope: "manifests" }, localDestination(), {
      downloads,
      concurrency: 1,
    });
    expect(expired).toBe(1);
    expect(result.verified).toBe(true);
  });

  it.each([
    ["truncated", { truncateAfterBytes: 200 }],
    ["corrupted", { corrupt: true }],
  ])(
    "detects a %s download: exit 1, no manifest, no object left, Export Failed emitted",
    async (_label, fault) => {
      env = await openExportEnv();
      await env.sandbox.scenario.addBackup({ name: "instance-fault" });
      env.sandbox.faults.add({ target: "download", path: ".tar.gz", ...fault });
      const dest = localDestination();
      const error = await caught(env.run({ backup: "instance-fault", scope: "manifests" }, dest));
      expect(error.exitCode).toBe(1);
      expect(await dest.head("manifests/instance-fault.json")).toBeUndefined();
      expect(await dest.head("velero/backups/instance-fault/instance-fault.tar.gz")).toBeUndefined();
      // Nothing of the backup is left: no velero-backup.json for Velero to list it by, no other file.
      expect(await keysOf(dest, "velero/backups/")).toEqual([]);
      expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);
      expect(env.events[0]?.detail).toMatchObject({
        cluster: "test",
        backup: "instance-fault",
        dedupKey: "kots-backup:test",
      });
      expect(String(env.events[0]?.detail.message)).not.toMatch(/signature=/);
    },
  );

  it("resumes an export cut off halfway: the next run copies only what is missing", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-resum" });
    const real = localDestination();
    let puts = 0;
    const flaky: ObjectStore = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === "put") {
          return async (...args: Parameters<LocalFolderStore["put"]>) => {
            puts += 1;
            if (puts === 6) {
              const body = args[1];
              if (body instanceof Readable) body.destroy();
              throw new Error("disk went away");
            }
            return target.put(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const error = await caught(env.run({ backup: "instance-resum" }, flaky, { concurrency: 1 }));
    expect(error.message).toContain("disk went away");
    expect(await real.head("manifests/instance-resum.json")).toBeUndefined();
    const partial = (await keysOf(real, "velero/")).length;
    expect(partial).toBeGreaterThan(0);

    const resumed = await env.run({ backup: "instance-resum" }, real);
    expect(resumed.verified).toBe(true);
    expect(resumed.skippedObjects).toBe(partial);
    expect(resumed.copiedObjects).toBe(resumed.objects - partial);
    await readBackAsBsl(real, "instance-resum");
  });

  it("exports only Completed backups unless PartiallyFailed ones are allowed, and --latest picks the newest Completed", async () => {
    env = await openExportEnv();
    const start = env.sandbox.clock.nowMs();
    await env.sandbox.scenario.addBackup({ name: "instance-older", startedAt: new Date(start - 7_200_000) });
    await env.sandbox.scenario.addBackup({ name: "instance-newer", startedAt: new Date(start - 3_600_000) });
    await env.sandbox.scenario.addBackup({
      name: "instance-pfail",
      phase: "PartiallyFailed",
      startedAt: new Date(start - 60_000),
    });
    await env.sandbox.scenario.addBackup({
      name: "instance-faild",
      phase: "Failed",
      startedAt: new Date(start - 30_000),
    });
    const dest = localDestination();

    const refused = await caught(env.run({ backup: "instance-pfail" }, dest));
    expect(refused).toMatchObject({ code: "backup-not-exportable", exitCode: 2 });
    expect(
      await caught(env.run({ backup: "instance-faild", includePartiallyFailed: true }, dest)),
    ).toMatchObject({ exitCode: 2 });
    expect(await keysOf(dest)).toEqual([]);

    const partial = await env.run({ backup: "instance-pfail", includePartiallyFailed: true }, dest);
    expect(partial.phase).toBe("PartiallyFailed");
    expect((await readManifest(dest, partial.manifestKey))?.partiallyFailed).toBe(true);

    const latest = await env.run({ latest: true }, dest);
    expect(latest.backup).toBe("instance-newer");
  });

  it("tags exports older than the newest keepLast verified ones expirable, never repository blobs", async () => {
    env = await openExportEnv();
    const dest = localDestination();
    const start = env.sandbox.clock.nowMs();
    const names = ["instance-aaaa1", "instance-aaaa2", "instance-aaaa3", "instance-aaaa4"];
    for (const [i, name] of names.entries()) {
      await env.sandbox.scenario.addBackup({ name, startedAt: new Date(start - (10 - i) * 3_600_000) });
    }
    // Exported out of order: retention goes by the backups' completion times.
    for (const name of [...names].reverse()) await env.run({ backup: name, keepLast: 3 }, dest);
    const tagged = async (key: string) =>
      (await dest.tagsOf(key))?.[EXPIRABLE_TAG.key] === EXPIRABLE_TAG.value;
    expect(await tagged("manifests/instance-aaaa1.json")).toBe(true);
    expect(await tagged("velero/backups/instance-aaaa1/instance-aaaa1.tar.gz")).toBe(true);
    for (const name of names.slice(1)) {
      expect(await tagged(`manifests/${name}.json`)).toBe(false);
      expect(await tagged(`velero/backups/${name}/${name}.tar.gz`)).toBe(false);
    }
    for (const key of await keysOf(dest, "velero/kopia/")) expect(await tagged(key)).toBe(false);
  });

  it("saves the KOTS config of configured apps next to the export", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-confg" });
    const kotsadm = await env.cluster.kotsadm();
    const dest = localDestination();
    const result = await env.run({ backup: "instance-confg", configApps: ["my-app"] }, dest, {
      downloadConfig: (app) => kotsadm.download(app),
    });
    expect(result.config).toEqual([
      {
        app: "my-app",
        key: "config/my-app/instance-confg.tar.gz",
        bytes: expect.any(Number),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
    const archive = await readAll(dest, "config/my-app/instance-confg.tar.gz");
    expect(archive.length).toBeGreaterThan(0);
  });
});

describe("export write order and failures (no silent failure)", () => {
  /** A destination that records each write, and what a crash right then would leave. */
  function recording(real: LocalFolderStore, name: string) {
    const writes: Array<{ key: string; backupJsonPresent: boolean }> = [];
    let failOnRepositoryWrite = 0;
    let repositoryWrites = 0;
    const store: ObjectStore = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === "put") {
          return async (...args: Parameters<LocalFolderStore["put"]>) => {
            const [key, body] = args;
            if (key.startsWith("velero/kopia/")) {
              repositoryWrites += 1;
              if (repositoryWrites === failOnRepositoryWrite) {
                if (body instanceof Readable) body.destroy();
                throw new Error("the destination went away mid-mirror");
              }
            }
            const backupJsonPresent =
              (await target.head(`velero/backups/${name}/velero-backup.json`)) !== undefined;
            writes.push({ key, backupJsonPresent });
            return target.put(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return {
      store,
      writes,
      failAtRepositoryWrite: (n: number) => {
        failOnRepositoryWrite = n;
      },
    };
  }

  it("writes velero-backup.json after every other Velero object, then the manifest: a crash at any earlier write leaves no listable backup", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-order" });
    const dest = localDestination();
    const rec = recording(dest, "instance-order");
    await env.run({ backup: "instance-order" }, rec.store);
    const velero = rec.writes.filter((w) => w.key.startsWith("velero/"));
    expect(velero.some((w) => w.key.startsWith("velero/kopia/"))).toBe(true);
    expect(velero.at(-1)?.key).toBe("velero/backups/instance-order/velero-backup.json");
    // At every write before it (each a possible crash point), Velero would list no such backup.
    expect(velero.filter((w) => w.backupJsonPresent)).toEqual([]);
    expect(rec.writes.at(-1)?.key).toBe("manifests/instance-order.json");
    await readBackAsBsl(dest, "instance-order");
  });

  it("a failure during the repository mirror leaves no velero-backup.json and none of the backup's objects; the next run completes", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-mirfl" });
    const dest = localDestination();
    const rec = recording(dest, "instance-mirfl");
    rec.failAtRepositoryWrite(4);
    const error = await caught(env.run({ backup: "instance-mirfl" }, rec.store));
    expect(error.message).toContain("the destination went away mid-mirror");
    expect(await dest.head("manifests/instance-mirfl.json")).toBeUndefined();
    expect(await keysOf(dest, "velero/backups/")).toEqual([]);
    expect((await keysOf(dest, "velero/kopia/")).length).toBeGreaterThan(0); // verified blobs stay for the next run
    expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);

    const next = await env.run({ backup: "instance-mirfl" }, dest);
    expect(next.verified).toBe(true);
    await readBackAsBsl(dest, "instance-mirfl");
  });

  it("a tarball that fails its check (full scope) leaves no velero-backup.json, no tarball, nothing of the backup", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-badtb" });
    const source = env.sandbox.store;
    await source.put("backups/instance-badtb/instance-badtb.tar.gz", gzipSync("not a tar archive"));
    const sourceKeys = (await keysOf(source)).sort();
    const dest = localDestination();
    const error = await caught(env.run({ backup: "instance-badtb" }, dest));
    expect(error).toMatchObject({ code: "tarball-invalid", exitCode: 1 });
    expect(await keysOf(dest, "velero/backups/")).toEqual([]);
    expect(await keysOf(dest, "manifests/")).toEqual([]);
    expect((await keysOf(source)).sort()).toEqual(sourceKeys); // the source is never touched
  });

  it("a bad key in a repository is skipped with a warning and a reason in the manifest; the export verifies and says so", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-badrp" });
    const badKey = `kopia/default/p${"0".repeat(299)}`; // a 300-byte file name
    await env.sandbox.store.put(badKey, "not a kopia blob");
    const dest = localDestination();
    const warnings: string[] = [];
    const result = await env.run({ backup: "instance-badrp" }, dest, {
      log: (level, message) => {
        if (level === "warn") warnings.push(message);
      },
    });
    const skipped = [{ key: badKey, reason: expect.stringMatching(/cannot store it .*300 bytes.*255/) }];
    expect(result).toMatchObject({ verified: true, skipped });
    expect(await readManifest(dest, result.manifestKey)).toMatchObject({ skipped });
    expect(warnings.some((w) => w.includes(badKey))).toBe(true);
    expect(String(env.events.at(-1)?.detail.message)).toMatch(/1 repository objects skipped/);
    await readBackAsBsl(dest, "instance-badrp");
    // Later exports are not blocked by it.
    await env.sandbox.scenario.addBackup({ name: "instance-badr2" });
    expect((await env.run({ backup: "instance-badr2" }, dest)).verified).toBe(true);
  });

  it("a bad key in the backup's own folder fails the export before any write: exit 1, a clear code, nothing written", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-badbk" });
    await env.sandbox.store.put(`backups/instance-badbk/${"x".repeat(300)}.json`, "{}");
    const dest = localDestination();
    const error = await caught(env.run({ backup: "instance-badbk" }, dest));
    expect(error).toMatchObject({ code: "source-key-invalid", exitCode: 1 });
    expect(error.message).toMatch(/nothing was written/);
    expect(await keysOf(dest)).toEqual([]);
    expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);
  });

  it("sweeps the temporary files killed runs left in a local folder, not a fresh one", async () => {
    env = await openExportEnv();
    await env.sandbox.scenario.addBackup({ name: "instance-sweep" });
    const dest = localDestination();
    const tmp = join(dest.root, LOCAL_META_DIR, "tmp");
    mkdirSync(tmp, { recursive: true });
    const old = new Date(Date.now() - 3 * 3_600_000);
    for (const name of ["a1b2.part", "c3d4.part", "e5f6.meta"]) {
      writeFileSync(join(tmp, name), Buffer.alloc(256 * 1024));
      utimesSync(join(tmp, name), old, old);
    }
    writeFileSync(join(tmp, "fresh.part"), "another process's write, just started");
    expect((await env.run({ backup: "instance-sweep" }, dest)).verified).toBe(true);
    expect(readdirSync(tmp)).toEqual(["fresh.part"]);
  });
});

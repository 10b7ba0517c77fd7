// Export faults, end to end: the real export engine copies a backup whose tarball spans two multipart
// parts into an S3 destination on moto — built from config as the CLI builds it — while things break:
//   - on Velero's signed URLs (the sandbox's download faults and clock): a connection reset before the
//     answer and mid-download, truncated and corrupted bodies, 503s, a slow answer, the URL expiring
//     while the body streams and before it is answered, a URL refused every time;
//   - on the destination S3 (a fault-injecting proxy in front of moto, support/s3-fault-proxy.ts):
//     503 SlowDown and 500 InternalError on UploadPart, PutObject, CompleteMultipartUpload, the
//     manifest's PutObject, CopyObject and UploadPartCopy (server-side full scope);
//   - the process itself: `kots-backup export` in a child process SIGKILLed after every object was
//     copied, while its manifest PutObject is in flight.
// Apart from the counted cases: a failure during the repository mirror leaves nothing Velero would
// list (no velero-backup.json, nothing of the backup).
// Each case either survives within the run (retries), or fails cleanly; either way: never a manifest for
// an unverified export (a manifest present always matches the source's bytes and the bytes stored),
// ListMultipartUploads empty on the destination bucket, and the next run completes with a verified
// manifest.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { type ExportDeps, type ExportResult, readManifest } from "@kots-backup/adapters/export/engine";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import type { DownloadSource } from "@kots-backup/adapters/kube/download-request";
import type { S3Store } from "@kots-backup/adapters/store/s3";
import { checkVeleroTarball } from "@kots-backup/adapters/tarball";
import type { ObjectStore } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import type { FaultRule } from "@kots-backup/sandbox";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  addBulkyConfigMaps,
  type ExportEnv,
  keysOf,
  motoStore,
  openExportEnv,
  readAll,
} from "../export/support.ts";
import { recordCaptured } from "../support/capture.ts";
import { describeWithMoto, motoEndpoint, motoS3, uniqueBucketName } from "../support/peers.ts";
import { cli, tempDir, writeConfig } from "./support/harness.ts";
import { type S3FaultProxy, type S3FaultRule, startS3FaultProxy } from "./support/s3-fault-proxy.ts";
import { defineSecretScan } from "./support/secret-scan.ts";
import { exportSecretEnv, registerSecrets } from "./support/secrets.ts";

const MiB = 1024 * 1024;
/** Its tarball spans two parts (8 MiB multipart parts when streamed, 5 MiB UploadPartCopy parts). */
const BIG = "instance-bulky";
/** Every object of it fits in one PutObject or CopyObject. */
const SMALL = "instance-small";
type BackupName = typeof BIG | typeof SMALL;
const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "src", "bin.ts");

let env: ExportEnv;
let bsl: S3Store;
let proxy: S3FaultProxy;
const direct = motoS3();
let bigSize = 0;

/** What the cases survived, for the figure line. */
const tally = { inRun: 0, nextRun: 0, crash: 0, manifestsChecked: 0, uploadListings: 0 };

/** A fresh destination bucket, reached through the proxy with the store the CLI builds from config. */
async function destination(): Promise<{ store: ObjectStore; bucket: string; url: string }> {
  const bucket = uniqueBucketName("kbf");
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  const url = `s3://${bucket}/exports/prod`;
  const config = parseConfig({ export: exportSection(url) });
  return { store: await destinationStore(config.export), bucket, url };
}

function exportSection(url: string) {
  return {
    destination: url,
    endpoint: proxy.url,
    forcePathStyle: true,
    scope: "manifests",
    credentials: {
      accessKeyId: "env:KB_REL_S3_ACCESS_KEY_ID",
      secretAccessKey: "env:KB_REL_S3_SECRET_ACCESS_KEY",
    },
  };
}

/** Multipart uploads left open anywhere in the bucket (asked of moto directly, not through the proxy). */
async function openUploads(bucket: string): Promise<string[]> {
  const out = await direct.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  tally.uploadListings += 1;
  return (out.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
}

async function bucketKeys(bucket: string): Promise<string[]> {
  const out = await direct.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (out.Contents ?? []).map((o) => o.Key ?? "");
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** SHA-256 of the BSL's objects (read once: the source never changes). */
const sourceHashes = new Map<string, Promise<string>>();
function sourceSha(key: string): Promise<string> {
  let hash = sourceHashes.get(key);
  if (!hash) {
    hash = readAll(bsl, key).then(sha256);
    sourceHashes.set(key, hash);
  }
  return hash;
}

/**
 * The manifest is there and vouches only for verified bytes: every object it lists is stored with its
 * size and SHA-256 (read back from the destination and hashed here), and is the BSL's object byte for
 * byte (all but velero-backup.json, written from the API in the manifests scope) — the source tarball
 * itself passes Velero's structural check (beforeAll).
 */
async function expectVerifiedManifest(
  store: ObjectStore,
  scope: "full" | "manifests",
  backup: BackupName,
): Promise<void> {
  const manifest = await readManifest(store, `manifests/${backup}.json`);
  expect(manifest, "a manifest").toBeDefined();
  expect(manifest).toMatchObject({ backup, scope, phase: "Completed" });
  const prefix = `velero/backups/${backup}/`;
  const files = manifest!.objects
    .filter((o) => o.key.startsWith(prefix))
    .map((o) => o.key.slice(prefix.length));
  // The manifests scope: the four DownloadRequest files and velero-backup.json; full: the BSL's folder.
  const expected =
    scope === "manifests"
      ? [".tar.gz", "-logs.gz", "-results.gz", "-resource-list.json.gz"]
          .map((suffix) => `${backup}${suffix}`)
          .concat("velero-backup.json")
      : (await keysOf(bsl, `backups/${backup}/`)).map((k) => k.slice(`backups/${backup}/`.length));
  expect(files.sort()).toEqual(expected.sort());
  if (scope === "full") expect(manifest!.objects.some((o) => o.key.startsWith("velero/kopia/"))).toBe(true);
  for (const object of manifest!.objects) {
    const stored = await readAll(store, object.key);
    expect({ key: object.key, size: stored.length, sha256: sha256(stored) }).toEqual(object);
    if (scope === "manifests" && object.key === `${prefix}velero-backup.json`) {
      expect(JSON.parse(stored.toString("utf8"))).toMatchObject({
        kind: "Backup",
        metadata: { name: backup },
        status: { phase: "Completed" },
      });
      continue;
    }
    expect(object.sha256, object.key).toBe(await sourceSha(object.key.slice("velero/".length)));
  }
  if (backup === BIG) {
    expect(manifest!.objects.find((o) => o.key === `${prefix}${backup}.tar.gz`)?.size).toBeGreaterThan(
      8 * MiB,
    );
  }
  tally.manifestsChecked += 1;
}

/** No manifest at all: not at its key, nothing under manifests/. */
async function expectNoManifest(store: ObjectStore, bucket: string, backup: BackupName): Promise<void> {
  expect(await store.head(`manifests/${backup}.json`)).toBeUndefined();
  expect((await bucketKeys(bucket)).filter((k) => k.includes("/manifests/"))).toEqual([]);
}

interface Case {
  name: string;
  backup: BackupName;
  scope: "full" | "manifests";
  /** Survived within the run (retries), or failed cleanly and completed on the next run. */
  expect: "survives" | "fails";
  /** Sandbox download faults (manifests scope). */
  download?: Omit<FaultRule, "target">[];
  /** Destination S3 faults, through the proxy. */
  s3?: S3FaultRule[];
  /** The error code a failing case ends with. */
  code?: string;
  /** The file of the backup that failed: not at the destination after the failed run. */
  absent?: string;
  /** Extra engine deps for the first run (a DownloadSource that moves the clock, …). */
  deps?: () => Partial<ExportDeps>;
  /** Runs alongside the first run (moves the sandbox clock when a fault is hit, …). */
  during?: (ids: number[], done: () => boolean) => Promise<void>;
  /** Extra checks after the first run (ids: the download faults, then the tarball observer). */
  after?: (ids: number[]) => Promise<void>;
}

/** Download fault paths: one file of one backup (the signed URL's path, up to its query). */
const file = (backup: BackupName, suffix: string): Pick<FaultRule, "path"> => ({
  path: `/${backup}${suffix}?`,
});
// S3 operations, by method + query + headers (see s3Operation in the proxy).
const UPLOAD_PART = { method: "PUT", query: "partNumber=", withoutHeaders: ["x-amz-copy-source"] };
const UPLOAD_PART_COPY = { method: "PUT", query: "partNumber=", withHeaders: ["x-amz-copy-source"] };
const PUT_OBJECT = {
  method: "PUT",
  query: /^x-id=PutObject/,
  path: /\/velero\//,
  withoutHeaders: ["x-amz-copy-source"],
};
const MANIFEST_PUT = {
  method: "PUT",
  path: /\/manifests\/[^/]+\.json$/,
  withoutHeaders: ["x-amz-copy-source"],
};
const COPY_OBJECT = { method: "PUT", query: /^x-id=CopyObject/, withHeaders: ["x-amz-copy-source"] };
const COMPLETE = { method: "POST", query: /(^|&)uploadId=/ };
const ABORT = { method: "DELETE", query: /(^|&)uploadId=/ };
/** S3 did the work, then its answer was lost: the client sees a 500 instead. */
const lost = (match: S3FaultRule["match"]): S3FaultRule => ({ ...error500(match, 1), afterUpstream: true });

function slow(match: S3FaultRule["match"], times?: number): S3FaultRule {
  return { match, status: 503, code: "SlowDown", ...(times ? { times } : {}) };
}
function error500(match: S3FaultRule["match"], times?: number): S3FaultRule {
  return { match, status: 500, code: "InternalError", ...(times ? { times } : {}) };
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function statusOf(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

/**
 * A DownloadSource that moves the sandbox clock past the URL's 10 minutes once the tarball's answer
 * has started (headers in, body streaming), and keeps the tarball URLs it was given.
 */
function expiringMidStream(backup: BackupName) {
  let moved = 0;
  const urls: string[] = [];
  const downloads: DownloadSource = {
    requestUrl: async (kind, name) => {
      const url = await env.downloads.requestUrl(kind, name);
      if (kind === "BackupContents") urls.push(url.url);
      return url;
    },
    open: async (url, what) => {
      const opened = await env.downloads.open(url, what);
      if (moved === 0 && url.url.includes(`/${backup}.tar.gz?`)) {
        moved += 1;
        await env.sandbox.clock.advance(11 * 60 * 1000);
      }
      return opened;
    },
  };
  return { downloads, moved: () => moved, urls };
}
let expiring: ReturnType<typeof expiringMidStream> | undefined;

// Jumping the sandbox clock 11 minutes also expires — and Velero then deletes — the DownloadRequests of
// files still waiting for their URL (a real Velero answers them within seconds): the clock cases copy
// one file at a time, so only the tarball's URL is in play when time jumps.
const ONE_AT_A_TIME = { concurrency: 1 };

const CASES: Case[] = [
  // ── Velero's signed URLs (manifests scope, streamed into S3) ──
  {
    name: "connection reset before the answer",
    backup: SMALL,
    scope: "manifests",
    expect: "survives",
    download: [{ ...file(SMALL, ".tar.gz"), drop: true, times: 1 }],
  },
  {
    name: "connection reset mid-download (after 8.5 MiB: part 1 uploaded)",
    backup: BIG,
    scope: "manifests",
    expect: "survives",
    download: [{ ...file(BIG, ".tar.gz"), truncateAfterBytes: 8.5 * MiB, times: 1 }],
  },
  {
    name: "connection reset mid-download on every attempt",
    backup: BIG,
    scope: "manifests",
    expect: "fails",
    code: "download-incomplete",
    absent: `${BIG}.tar.gz`,
    download: [{ ...file(BIG, ".tar.gz"), truncateAfterBytes: 8.5 * MiB }],
  },
  {
    name: "truncated body (cut after 10 bytes), once",
    backup: SMALL,
    scope: "manifests",
    expect: "survives",
    download: [{ ...file(SMALL, "-logs.gz"), truncateAfterBytes: 10, times: 1 }],
  },
  {
    name: "truncated body on every attempt",
    backup: SMALL,
    scope: "manifests",
    expect: "fails",
    code: "download-incomplete",
    absent: `${SMALL}-logs.gz`,
    download: [{ ...file(SMALL, "-logs.gz"), truncateAfterBytes: 10 }],
  },
  {
    name: "corrupted tarball body (right length, bytes flipped; multipart)",
    backup: BIG,
    scope: "manifests",
    expect: "fails",
    code: "tarball-invalid",
    absent: `${BIG}.tar.gz`,
    download: [{ ...file(BIG, ".tar.gz"), corrupt: true, times: 1 }],
  },
  {
    name: "corrupted .gz body",
    backup: SMALL,
    scope: "manifests",
    expect: "fails",
    code: "export-verification-failed",
    absent: `${SMALL}-results.gz`,
    download: [{ ...file(SMALL, "-results.gz"), corrupt: true, times: 1 }],
  },
  {
    name: "503 from the signed-URL server, twice",
    backup: SMALL,
    scope: "manifests",
    expect: "survives",
    download: [{ ...file(SMALL, ".tar.gz"), status: 503, times: 2 }],
  },
  {
    name: "slow answer (400 ms)",
    backup: SMALL,
    scope: "manifests",
    expect: "survives",
    download: [{ ...file(SMALL, ".tar.gz"), delayMs: 400, times: 1 }],
  },
  {
    name: "presigned URL expiry mid-stream (the clock passes the 10 min TTL, then the body is cut)",
    backup: BIG,
    scope: "manifests",
    expect: "survives",
    download: [{ ...file(BIG, ".tar.gz"), truncateAfterBytes: 4 * MiB, times: 1 }],
    deps: () => {
      expiring = expiringMidStream(BIG);
      return { downloads: expiring.downloads, ...ONE_AT_A_TIME };
    },
    after: async () => {
      expect(expiring?.moved()).toBe(1);
      // A new DownloadRequest gave a new URL; the broken transfer's URL is refused now (expired).
      const urls = expiring?.urls ?? [];
      expect(urls).toHaveLength(2);
      expect(new Set(urls).size).toBe(2);
      expect(await statusOf(urls[0]!)).toBe(403);
      expect(await statusOf(urls[1]!)).toBe(200);
    },
  },
  {
    name: "presigned URL expiring before its answer (the clock passes the TTL while the GET waits)",
    backup: SMALL,
    scope: "manifests",
    expect: "survives",
    // The fault is recorded as the GET arrives; the clock moves (in this process) long before the
    // delayed answer checks the URL's expiry.
    download: [{ ...file(SMALL, ".tar.gz"), delayMs: 1_500, times: 1 }],
    deps: () => ONE_AT_A_TIME,
    during: async (ids, done) => {
      while (!done() && !env.sandbox.faults.hits.some((h) => h.id === ids[0])) await pause(5);
      if (!done()) await env.sandbox.clock.advance(11 * 60 * 1000);
    },
    after: async (ids) => {
      // The delayed GET was refused (expired): the tarball was fetched again, with a new URL.
      expect(env.sandbox.faults.hits.filter((h) => h.id === ids[1])).toHaveLength(1);
    },
  },
  {
    name: "signed URL refused (403) on every attempt",
    backup: SMALL,
    scope: "manifests",
    expect: "fails",
    code: "download-url-expired",
    absent: `${SMALL}.tar.gz`,
    download: [{ ...file(SMALL, ".tar.gz"), status: 403 }],
  },
  // ── The destination S3, through the proxy (streamed: PutObject, or multipart above 8 MiB) ──
  ...(
    [
      ["UploadPart 503 SlowDown, once", BIG, "survives", slow(UPLOAD_PART, 1)],
      ["UploadPart 500, once", BIG, "survives", error500(UPLOAD_PART, 1)],
      ["UploadPart 503 SlowDown, every time", BIG, "fails", slow(UPLOAD_PART)],
      ["UploadPart 500, every time", BIG, "fails", error500(UPLOAD_PART)],
      ["CompleteMultipartUpload 500, every time", BIG, "fails", error500(COMPLETE)],
      ["UploadPart stored but its answer lost (500), once", BIG, "survives", lost(UPLOAD_PART)],
      ["CompleteMultipartUpload done but its answer lost (500), once", BIG, "survives", lost(COMPLETE)],
      ["PutObject 503 SlowDown, twice", SMALL, "survives", slow(PUT_OBJECT, 2)],
      ["PutObject 500, every time", SMALL, "fails", error500(PUT_OBJECT)],
      [
        "the manifest's PutObject 503 SlowDown, every time (every object copied and verified)",
        SMALL,
        "fails",
        slow(MANIFEST_PUT),
      ],
      [
        "the manifest's PutObject stored but its answer lost (500), once",
        SMALL,
        "survives",
        lost(MANIFEST_PUT),
      ],
    ] as const
  ).map(
    ([name, backup, outcome, rule]): Case => ({
      name,
      backup,
      scope: "manifests",
      expect: outcome,
      s3: [rule],
      ...(outcome === "fails" ? { code: "s3-error" } : {}),
    }),
  ),
  {
    name: "UploadPart 500 every time, and the AbortMultipartUpload that follows 503 SlowDown once",
    backup: BIG,
    scope: "manifests",
    expect: "fails",
    code: "s3-error",
    s3: [error500(UPLOAD_PART), slow(ABORT, 1)],
  },
  // ── Server-side copies into the destination (full scope: BSL and destination on one endpoint) ──
  ...(
    [
      ["CopyObject 503 SlowDown, once", SMALL, "survives", slow(COPY_OBJECT, 1)],
      ["CopyObject 500, every time", SMALL, "fails", error500(COPY_OBJECT)],
      ["UploadPartCopy 503 SlowDown, once", BIG, "survives", slow(UPLOAD_PART_COPY, 1)],
      ["UploadPartCopy 500, every time", BIG, "fails", error500(UPLOAD_PART_COPY)],
    ] as const
  ).map(
    ([name, backup, outcome, rule]): Case => ({
      name,
      backup,
      scope: "full",
      expect: outcome,
      s3: [rule],
      ...(outcome === "fails" ? { code: "s3-error" } : {}),
    }),
  ),
];

/** Engine deps for a scope: full = server-side copies from the BSL bucket, in 5 MiB parts above 5 MiB. */
function scopeDeps(scope: "full" | "manifests"): Partial<ExportDeps> {
  return scope === "full"
    ? {
        serverSideCopy: true,
        copyOptions: { multipartThreshold: 5 * MiB, partSize: 5 * MiB },
        bsl: { name: "default", location: bsl.location },
      }
    : {};
}

type Outcome = { result: ExportResult } | { error: Error & { code?: string; exitCode?: number } };

describeWithMoto("export faults", () => {
  beforeAll(async () => {
    exportSecretEnv();
    bsl = await motoStore("velero");
    env = await openExportEnv({ store: bsl, bucket: bsl.bucket });
    registerSecrets(
      "sandbox",
      env.sandbox.serviceAccountToken,
      env.sandbox.adminToken,
      (await env.sandbox.kotsadm.authString()) ?? undefined,
    );
    proxy = await startS3FaultProxy(motoEndpoint());
    await env.sandbox.scenario.addBackup({ name: SMALL });
    addBulkyConfigMaps(env, 8, 900 * 1024);
    await env.sandbox.scenario.addBackup({ name: BIG });
    for (const backup of [SMALL, BIG]) {
      const report = await checkVeleroTarball(await bsl.get(`backups/${backup}/${backup}.tar.gz`));
      expect(report.problems).toEqual([]);
    }
    bigSize = (await bsl.head(`backups/${BIG}/${BIG}.tar.gz`))?.size ?? 0;
    expect(bigSize).toBeGreaterThan(8 * MiB);
    expect((await bsl.head(`backups/${SMALL}/${SMALL}.tar.gz`))?.size).toBeLessThan(5 * MiB);
  });
  afterAll(async () => {
    await proxy?.close();
    await env?.stop();
  });

  // A bound against hangs only (no timing is asserted): generous, for a loaded machine.
  it.each(CASES.map((c) => [c.name, c] as const))("%s", { timeout: 120_000 }, async (_name, c) => {
    const { store, bucket } = await destination();
    const downloadIds = (c.download ?? []).map((rule) =>
      env.sandbox.faults.add({ target: "download", ...rule }),
    );
    const s3Ids = (c.s3 ?? []).map((rule) => proxy.add(rule));
    // After the faults (rules are tried in order): sees every other GET of the tarball.
    const observer = env.sandbox.faults.add({ target: "download", ...file(c.backup, ".tar.gz") });
    const ids = [...downloadIds, observer];
    env.events.splice(0);
    const request = { backup: c.backup, scope: c.scope };
    let finished = false;
    const first = env.run(request, store, { ...scopeDeps(c.scope), ...c.deps?.() }).finally(() => {
      finished = true;
    });
    const [outcome] = await Promise.all([
      first.then(
        (result): Outcome => ({ result }),
        (error: unknown): Outcome => ({ error: error as Error & { code?: string } }),
      ),
      c.during?.(ids, () => finished),
    ]);
    try {
      // The faults fired (as many times as they were set to, when bounded).
      for (const id of downloadIds) expect(env.sandbox.faults.hits.some((h) => h.id === id)).toBe(true);
      for (const [i, rule] of (c.s3 ?? []).entries()) {
        const hits = proxy.hitsOf(s3Ids[i]!).length;
        if (rule.times !== undefined) expect(hits).toBe(rule.times);
        else expect(hits).toBeGreaterThan(0);
      }
      if (c.expect === "survives") {
        expect("error" in outcome ? outcome.error.message : "").toBe("");
        expect("result" in outcome && outcome.result).toMatchObject({
          verified: true,
          alreadyExported: false,
          scope: c.scope,
        });
        await expectVerifiedManifest(store, c.scope, c.backup);
        expect(env.events.map((e) => e.detailType)).toEqual(["Export Completed"]);
        tally.inRun += 1;
      } else {
        expect("error" in outcome, "the export failed").toBe(true);
        const error = "error" in outcome ? outcome.error : undefined;
        expect(error?.code, error?.message).toBe(c.code);
        await expectNoManifest(store, bucket, c.backup);
        if (c.absent) expect(await store.head(`velero/backups/${c.backup}/${c.absent}`)).toBeUndefined();
        expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);
        expect(String(env.events[0]?.detail.message)).not.toMatch(/signature=|X-Amz-Signature/i);
      }
      await c.after?.(ids);
      expect(await openUploads(bucket), "open multipart uploads").toEqual([]);
    } finally {
      for (const id of [...downloadIds, observer]) env.sandbox.faults.remove(id);
      for (const id of s3Ids) proxy.remove(id);
    }
    if (c.expect === "fails") {
      // The next run, the fault gone, completes.
      env.events.splice(0);
      const next = await env.run(request, store, scopeDeps(c.scope));
      expect(next).toMatchObject({ verified: true, alreadyExported: false });
      await expectVerifiedManifest(store, c.scope, c.backup);
      expect(await openUploads(bucket)).toEqual([]);
      tally.nextRun += 1;
    }
    // And a verified export is never redone.
    expect((await env.run(request, store, scopeDeps(c.scope))).alreadyExported).toBe(true);
  });

  it("a crash before the manifest: `kots-backup export` SIGKILLed once every object is copied", {
    timeout: 120_000,
  }, async () => {
    const { store, bucket, url } = await destination();
    const dir = tempDir();
    const config = writeConfig(dir, {
      cluster: { name: "prod", kubeconfig: env.sandbox.kubeconfigPath },
      export: exportSection(url),
    });
    // The manifest's PutObject is held unanswered: the process is inside the manifest write.
    const hold = proxy.add({
      match: { ...MANIFEST_PUT, path: new RegExp(`^/${bucket}/.*/manifests/`) },
      hold: true,
    });
    const child: ChildProcess = spawn(process.execPath, [BIN, "--config", config, "--json", "export", BIG], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    try {
      const held = await Promise.race([
        proxy.nextHold(),
        exited.then(({ code }): never => {
          throw new Error(`kots-backup export exited (${code}) before writing its manifest:\n${output}`);
        }),
      ]);
      expect(held.operation).toBe("PutObject");
      // Every object was copied and verified before the manifest write began.
      const keys = await bucketKeys(bucket);
      expect(keys.filter((k) => k.includes(`/velero/backups/${BIG}/`))).toHaveLength(5);
      child.kill("SIGKILL");
      expect(await exited).toMatchObject({ signal: "SIGKILL" });
    } finally {
      proxy.remove(hold);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      recordCaptured(`$ kots-backup --json export ${BIG} (SIGKILLed)\n${output}`);
    }
    await expectNoManifest(store, bucket, BIG);
    expect(await openUploads(bucket)).toEqual([]);

    // The next run (the CLI again, in-process) completes with a verified manifest; the one after is a no-op.
    const next = await cli(["--config", config, "--json", "export", BIG]);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.json).toMatchObject({ verified: true, alreadyExported: false, backup: BIG });
    await expectVerifiedManifest(store, "manifests", BIG);
    expect(await openUploads(bucket)).toEqual([]);
    const again = await cli(["--config", config, "--json", "export", BIG]);
    expect(again.json).toMatchObject({ alreadyExported: true });
    tally.crash += 1;
  });

  it("a failure during the repository mirror (every CopyObject of a kopia blob 500) leaves no velero-backup.json, nothing of the backup", {
    timeout: 120_000,
  }, async () => {
    const { store, bucket } = await destination();
    const rule = proxy.add(error500({ ...COPY_OBJECT, path: /\/velero\/kopia\// }));
    env.events.splice(0);
    let error: (Error & { code?: string }) | undefined;
    try {
      error = await env.run({ backup: SMALL, scope: "full" }, store, scopeDeps("full")).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(proxy.hitsOf(rule).length).toBeGreaterThan(0);
    } finally {
      proxy.remove(rule);
    }
    expect(error?.code, error?.message).toBe("s3-error");
    const keys = await bucketKeys(bucket);
    // Velero lists a backup by velero-backup.json: none, and none of the backup's other objects.
    expect(keys.filter((k) => k.includes(`/velero/backups/${SMALL}/`))).toEqual([]);
    expect(keys.filter((k) => k.includes("/manifests/"))).toEqual([]);
    expect((await direct.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual(
      [],
    );
    expect(env.events.map((e) => e.detailType)).toEqual(["Export Failed"]);
    // The next run, the fault gone, completes.
    const next = await env.run({ backup: SMALL, scope: "full" }, store, scopeDeps("full"));
    expect(next).toMatchObject({ verified: true, alreadyExported: false });
    expect(await readManifest(store, `manifests/${SMALL}.json`)).toBeDefined();
  });

  it("counted every fault case", () => {
    const survived = tally.inRun + tally.nextRun + tally.crash;
    // The fault matrix's own totals (what docs/testing.md describes).
    expect(CASES).toHaveLength(28);
    expect(tally).toEqual({
      inRun: 15,
      nextRun: 13,
      crash: 1,
      // One per case: after the run that completed it (the first, or the next one).
      manifestsChecked: 29,
      // After every run that did not complete, and after every run that did.
      uploadListings: 15 + 2 * 13 + 2,
    });
    process.stdout.write(
      `export faults: ${survived} cases survived (${tally.inRun} within the run, ${tally.nextRun} failed cleanly and completed on the next run, ${tally.crash} crash before the manifest; tarball ${(bigSize / MiB).toFixed(1)} MiB); ${tally.manifestsChecked} manifests checked against the source and the stored bytes, none for an unverified export; ${tally.uploadListings} ListMultipartUploads, all empty\n`,
    );
  });
});

defineSecretScan("export-faults");

// One measurement in a fresh process (so that peak RSS is this process's own): bench/run.ts starts it as
//   node bench/child.ts <task> <json args>
// and reads one JSON line from stdout. Tasks:
//   export-kots     kots-backup's export engine (full scope, streamed GET → multipart PUT + verification)
//   export-ceiling  plain streaming GET piped into a streaming multipart upload, no checksums or checks
//   export-naive    the whole object buffered, then one PutObject
//   server-copy     the engine's server-side path (CopyObject), bytes through this process counted
//   mirror          the engine's full-scope export of a backup whose repository holds many small blobs
//   freshness       evaluateChecks on 100 schedules × 20,000 backups
import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { exportBackup } from "@kots-backup/adapters/export/engine";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { ByteCounter, benchS3, MiB } from "./common.ts";
import { benchBackup, benchCluster } from "./fixture.ts";

export interface ExportArgs {
  endpoint: string;
  sourceBucket: string;
  sourcePrefix: string;
  /** Key of the big object, relative to sourcePrefix. */
  objectKey: string;
  destBucket: string;
  destPrefix: string;
  backup: string;
  size: number;
  /** Objects the export copies (default 3: velero-backup.json, the tarball, the big blob). */
  expectCopied?: number;
}

export interface ChildResult {
  ms: number;
  maxRssBytes: number;
  netReadBytes: number;
  netWrittenBytes: number;
  [key: string]: unknown;
}

function rss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Records the body size of each GetObject answer, by key. */
function recordGets(client: S3Client, gets: Array<{ key: string; bytes: number }>): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === "GetObjectCommand") {
        const input = args.input as { Key?: string };
        const output = out.output as { ContentLength?: number };
        gets.push({ key: input.Key ?? "", bytes: output.ContentLength ?? 0 });
      }
      return out;
    },
    { step: "initialize", name: "benchRecordGets" },
  );
}

/** A full-scope export from one bucket to another through this process (the streamed path, two clients
 * as for a BSL on another endpoint or account), timed, with the bytes the process moved. */
async function streamedExport(a: MirrorArgs) {
  const counter = new ByteCounter();
  const source = new S3Store({
    bucket: a.sourceBucket,
    prefix: a.sourcePrefix,
    client: benchS3(a.endpoint, counter),
  });
  const destination = new S3Store({
    bucket: a.destBucket,
    prefix: a.destPrefix,
    client: benchS3(a.endpoint, counter),
  });
  const t0 = performance.now();
  const result = await exportBackup(
    { backup: a.backup, scope: "full" },
    {
      cluster: benchCluster([benchBackup(a.backup)]),
      destination,
      source: { store: source },
      serverSideCopy: false,
      bsl: { name: "default", location: source.location },
    },
  );
  return { result, ms: performance.now() - t0, counter };
}

async function exportKots(a: ExportArgs): Promise<ChildResult> {
  const { result, ms, counter } = await streamedExport(a);
  if (!result.verified || result.copiedObjects !== (a.expectCopied ?? 3))
    throw new Error(`unexpected result ${JSON.stringify(result)}`);
  return {
    ms,
    maxRssBytes: rss(),
    netReadBytes: counter.read,
    netWrittenBytes: counter.written,
    copiedBytes: result.copiedBytes,
  };
}

async function exportCeiling(a: ExportArgs): Promise<ChildResult> {
  const counter = new ByteCounter();
  const client = benchS3(a.endpoint, counter, { checksums: false });
  const t0 = performance.now();
  const got = await client.send(
    new GetObjectCommand({ Bucket: a.sourceBucket, Key: `${a.sourcePrefix}${a.objectKey}` }),
  );
  await new Upload({
    client,
    params: { Bucket: a.destBucket, Key: `${a.destPrefix}${a.objectKey}`, Body: got.Body as Readable },
    partSize: 8 * MiB,
    queueSize: 4,
  }).done();
  const ms = performance.now() - t0;
  return { ms, maxRssBytes: rss(), netReadBytes: counter.read, netWrittenBytes: counter.written };
}

async function exportNaive(a: ExportArgs): Promise<ChildResult> {
  const counter = new ByteCounter();
  const client = benchS3(a.endpoint, counter);
  const t0 = performance.now();
  const got = await client.send(
    new GetObjectCommand({ Bucket: a.sourceBucket, Key: `${a.sourcePrefix}${a.objectKey}` }),
  );
  const chunks: Buffer[] = [];
  for await (const chunk of got.Body as AsyncIterable<Buffer>) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  chunks.length = 0;
  await client.send(
    new PutObjectCommand({ Bucket: a.destBucket, Key: `${a.destPrefix}${a.objectKey}`, Body: body }),
  );
  const ms = performance.now() - t0;
  return { ms, maxRssBytes: rss(), netReadBytes: counter.read, netWrittenBytes: counter.written };
}

async function serverCopy(a: ExportArgs): Promise<ChildResult> {
  const counter = new ByteCounter();
  // One client: same endpoint and credentials, so the engine copies server-side.
  const client = benchS3(a.endpoint, counter);
  const gets: Array<{ key: string; bytes: number }> = [];
  recordGets(client, gets);
  const source = new S3Store({ bucket: a.sourceBucket, prefix: a.sourcePrefix, client });
  const destination = new S3Store({ bucket: a.destBucket, prefix: a.destPrefix, client });
  const t0 = performance.now();
  const result = await exportBackup(
    { backup: a.backup, scope: "full" },
    {
      cluster: benchCluster([benchBackup(a.backup)]),
      destination,
      source: { store: source },
      serverSideCopy: true,
      bsl: { name: "default", location: source.location },
    },
  );
  const ms = performance.now() - t0;
  if (!result.verified || result.copiedObjects !== 3)
    throw new Error(`unexpected result ${JSON.stringify(result)}`);
  const structural = gets.filter((g) => g.key.endsWith(".tar.gz"));
  return {
    ms,
    maxRssBytes: rss(),
    netReadBytes: counter.read,
    netWrittenBytes: counter.written,
    copiedBytes: result.copiedBytes,
    structuralReadBytes: structural.reduce((s, g) => s + g.bytes, 0),
    getBodies: gets,
  };
}

interface MirrorArgs {
  endpoint: string;
  sourceBucket: string;
  sourcePrefix: string;
  destBucket: string;
  destPrefix: string;
  backup: string;
}

async function mirror(a: MirrorArgs): Promise<ChildResult> {
  const { result, ms, counter } = await streamedExport(a);
  return {
    ms,
    maxRssBytes: rss(),
    netReadBytes: counter.read,
    netWrittenBytes: counter.written,
    objects: result.objects,
    copiedObjects: result.copiedObjects,
    skippedObjects: result.skippedObjects,
    verified: result.verified,
  };
}

async function freshness(): Promise<ChildResult> {
  const { freshnessInput } = await import("./freshness-input.ts");
  const { evaluateChecks } = await import("@kots-backup/core/freshness");
  const input = freshnessInput(100, 20_000);
  const runs: number[] = [];
  let states: Record<string, number> = {};
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const checks = evaluateChecks(input);
    runs.push(performance.now() - t0);
    states = {};
    for (const c of checks) states[c.state] = (states[c.state] ?? 0) + 1;
  }
  return { ms: 0, runs, states, maxRssBytes: rss(), netReadBytes: 0, netWrittenBytes: 0 };
}

const [task, json] = process.argv.slice(2);
const args = JSON.parse(json ?? "{}");
const tasks: Record<string, (a: never) => Promise<ChildResult>> = {
  "export-kots": exportKots,
  "export-ceiling": exportCeiling,
  "export-naive": exportNaive,
  "server-copy": serverCopy,
  mirror,
  freshness,
};
const run = tasks[task ?? ""];
if (!run) throw new Error(`unknown task ${task}`);
process.stdout.write(`${JSON.stringify(await run(args as never))}\n`);

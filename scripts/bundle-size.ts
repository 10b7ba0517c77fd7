// Bundles each Lambda handler as SST ships it (infra/bundling.ts: the options and plugins infra/functions.ts
// gives SST; esbuild, platform node, ESM, minified, everything bundled including our pinned AWS SDK v3
// clients) and prints the minified size and the size of the zip Lambda receives (deflate, as `zip -9`).
//   node scripts/bundle-size.ts [--json] [--out <dir>] [--metafile]
// (--metafile: also writes esbuild's metafile next to each bundle, <out>/<function>/meta.json, for
// https://esbuild.github.io/analyze/ or a look at what each bundle holds)
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { deflateRawSync, gzipSync } from "node:zlib";
import { build } from "esbuild";
import { BUNDLE_OPTIONS } from "../infra/bundling.ts";

const ROOT = resolve(import.meta.dirname, "..");
/** Handler entry points, as infra/permissions.ts names them (`<file>.handler`). */
const HANDLERS = {
  scheduled: "packages/functions/src/scheduled.ts",
  reconcile: "packages/functions/src/reconcile.ts",
  onDemand: "packages/functions/src/on-demand.ts",
  notify: "packages/functions/src/notify.ts",
} as const;

const args = process.argv.slice(2);
const json = args.includes("--json");
const metafile = args.includes("--metafile");
const outIndex = args.indexOf("--out");
const outDir =
  outIndex >= 0 && args[outIndex + 1]
    ? resolve(args[outIndex + 1] as string)
    : mkdtempSync(join(tmpdir(), "kb-bundles-"));

interface Row {
  function: string;
  minifiedBytes: number;
  gzipBytes: number;
  zipBytes: number;
}

/** Size of a one-file zip archive: local header + deflated data + central directory + end record. */
function zipSize(name: string, data: Buffer): number {
  const compressed = deflateRawSync(data, { level: 9 }).length;
  const stored = Math.min(compressed, data.length);
  return 30 + name.length + stored + 46 + name.length + 22;
}

const rows: Row[] = [];
for (const [fn, entry] of Object.entries(HANDLERS)) {
  const outfile = join(outDir, fn, "index.mjs");
  const result = await build({ ...BUNDLE_OPTIONS, entryPoints: [join(ROOT, entry)], outfile, metafile });
  if (result.metafile) writeFileSync(join(outDir, fn, "meta.json"), JSON.stringify(result.metafile));
  const data = readFileSync(outfile);
  rows.push({
    function: fn,
    minifiedBytes: statSync(outfile).size,
    gzipBytes: gzipSync(data, { level: 9 }).length,
    zipBytes: zipSize("index.mjs", data),
  });
}
if (outIndex < 0) rmSync(outDir, { recursive: true, force: true });

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
if (json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  const header = ["function", "minified", "gzip", "zip"];
  const lines = rows.map((r) => [r.function, kib(r.minifiedBytes), kib(r.gzipBytes), kib(r.zipBytes)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  for (const line of [header, ...lines]) {
    process.stdout.write(
      `${line.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")}\n`,
    );
  }
}

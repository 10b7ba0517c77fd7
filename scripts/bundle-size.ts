// Bundles each Lambda handler as SST would ship it (esbuild: platform node, ESM, target node24, minified,
// everything bundled including our pinned AWS SDK v3 clients, imported per service; ESM builds preferred,
// zod's English locale only: see BUNDLE_OPTIONS) and prints the
// minified size and the size of the zip Lambda receives (deflate, as `zip -9`).
//   node scripts/bundle-size.ts [--json] [--out <dir>]
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { deflateRawSync, gzipSync } from "node:zlib";
import { type BuildOptions, build, type Plugin } from "esbuild";

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

/**
 * zod's classic API re-exports every error-message locale (`z.locales`, ~260 KB minified) and only ever
 * uses English by itself; kots-backup never calls `z.config(z.locales.<other>())`. Resolve zod's locale
 * index to English only: the same messages, a quarter of a megabyte less to ship and parse.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? { path: resolve(args.resolveDir, "../locales/en.js"), namespace: "zod-locales" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * The esbuild options of every handler bundle (SST's defaults plus the two below; infra/functions.ts
 * should pass the same through `nodejs.esbuild` so what ships is what is measured here).
 */
const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node24",
  sourcemap: false,
  legalComments: "none",
  logLevel: "error",
  // Prefer packages' ESM builds (`module`) over their CommonJS `main`: the AWS SDK and Smithy ship both,
  // and only the ESM one lets esbuild drop what is not imported (~270 KB less per handler).
  mainFields: ["module", "main"],
  plugins: [zodEnglishOnly],
  // ESM output of CommonJS dependencies needs `require` (SST adds the same banner).
  banner: {
    js: 'import { createRequire as topLevelCreateRequire } from "module"; const require = topLevelCreateRequire(import.meta.url);',
  },
};

const rows: Row[] = [];
for (const [fn, entry] of Object.entries(HANDLERS)) {
  const outfile = join(outDir, fn, "index.mjs");
  await build({ ...BUNDLE_OPTIONS, entryPoints: [join(ROOT, entry)], outfile });
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

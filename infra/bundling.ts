// How every Lambda handler is bundled, in one place: infra/functions.ts passes these settings to SST
// (`nodejs.minify`, `nodejs.esbuild`, `nodejs.plugins`, which names this file) and
// scripts/bundle-size.ts (what bench measures) builds with the same, so what ships is what is measured.
// SST loads this file by its path with `node` (its plugin bridge imports it and runs the default
// export's plugins): Node type-strips it (Node ≥ 22.18), so it holds only erasable TypeScript, and its
// plugins use only what that bridge offers (onResolve and onLoad, whose `filter` is tested against the
// path only, every namespace included, and no `build.resolve`).
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type { BuildOptions, Plugin } from "esbuild";

/** This file, relative to sst.config.ts: SST's `nodejs.plugins`. */
export const BUNDLE_PLUGINS_FILE = "infra/bundling.ts";

const ZOD_LOCALES = "zod-locales";

/**
 * zod's classic API re-exports every error-message locale (`z.locales`, ~260 KB minified) and only ever
 * uses English by itself; kots-backup never calls `z.config(z.locales.<other>())`. Resolve zod's locale
 * index to English only: the same messages, a quarter of a megabyte less to ship and parse.
 */
export const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? { path: resolve(args.resolveDir, "../locales/en.js"), namespace: ZOD_LOCALES }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: ZOD_LOCALES }, (args) =>
      args.namespace === ZOD_LOCALES
        ? {
            contents: `export { default as en } from ${JSON.stringify(args.path)};`,
            resolveDir: dirname(args.path),
            loader: "js",
          }
        : undefined,
    );
  },
};

const CLIENT_NODE_DIST = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]/;
const CLIENT_NODE_GENERATED = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]/;

/**
 * @kubernetes/client-node's generated OpenAPI code (`dist/gen/`: ~760 model classes, the API classes and
 * their Observable/ObjectParam wrappers, ~1.2 MB minified) has no side effects but is not marked so:
 * each model file ends with assignments to its own class's statics (`V1Pod.discriminator = undefined`),
 * which keep every model in the bundle as soon as `KubeConfig` imports `gen/index.js` for
 * `createConfiguration`. Marking those modules side-effect free lets esbuild drop the ones nothing uses
 * (kots-backup calls the API server through packages/adapters/src/kube/api.ts, not the generated classes).
 */
export const clientNodeGeneratedCodeIsPure: Plugin = {
  name: "client-node-generated-code-is-pure",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!CLIENT_NODE_DIST.test(args.importer)) return undefined;
      const path = resolve(args.resolveDir, args.path);
      return CLIENT_NODE_GENERATED.test(path) ? { path, sideEffects: false } : undefined;
    });
  },
};

const UNDICI_ON_DEMAND = "client-node-undici-on-demand";

/**
 * client-node imports its private copy of undici (~0.74 MB minified, CommonJS) at the top of its
 * KubeConfig module, for the generated API clients, Watch and `applySecurityAuthentication`, so esbuild
 * evaluates all of it when a function starts. kots-backup's functions reach the API server through
 * packages/adapters/src/kube/transport.ts (node:https) and never call those: give client-node an undici
 * whose Agent, ProxyAgent and fetch load the real one on first use: in the functions nothing uses them,
 * so it never loads. (The npm package, scripts/build-package.ts, bundles the CLI with these options too:
 * there `doctor`'s VersionApi and AuthorizationV1Api calls load it on first use.)
 */
export const clientNodeUndiciOnDemand: Plugin = {
  name: "client-node-undici-on-demand",
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, (args) =>
      CLIENT_NODE_DIST.test(args.importer)
        ? { path: createRequire(args.importer).resolve("undici"), namespace: UNDICI_ON_DEMAND }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: UNDICI_ON_DEMAND }, (args) =>
      args.namespace === UNDICI_ON_DEMAND
        ? {
            contents: [
              `const undici = () => require(${JSON.stringify(args.path)});`,
              "export class Agent { constructor(options) { return new (undici().Agent)(options); } }",
              "export class ProxyAgent { constructor(options) { return new (undici().ProxyAgent)(options); } }",
              "export function fetch(...args) { return undici().fetch(...args); }",
            ].join("\n"),
            resolveDir: dirname(args.path),
            loader: "js",
          }
        : undefined,
    );
  },
};

export const BUNDLE_PLUGINS: Plugin[] = [
  zodEnglishOnly,
  clientNodeGeneratedCodeIsPure,
  clientNodeUndiciOnDemand,
];

/** SST's `nodejs.plugins` file exports the plugins as its default. */
export default BUNDLE_PLUGINS;

/**
 * The esbuild options SST takes as they are (`nodejs.esbuild`). Prefer packages' ESM builds (`module`)
 * over their CommonJS `main`: the AWS SDK and Smithy ship both, and only the ESM one lets esbuild drop
 * what is not imported (~270 KB less per handler). No `keepNames` (SST turns it on unless told): it
 * adds ~95 KB of `__name(…)` calls per handler, run at every start, and nothing reads function names.
 */
export const ESBUILD_OPTIONS = { mainFields: ["module", "main"], keepNames: false } satisfies BuildOptions;

/**
 * The complete esbuild options of a handler bundle, as SST builds one with the settings above (ESM,
 * platform node, minified, no source map in the package, the `require` banner SST adds).
 */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node24",
  sourcemap: false,
  legalComments: "none",
  logLevel: "error",
  ...ESBUILD_OPTIONS,
  plugins: BUNDLE_PLUGINS,
  // ESM output of CommonJS dependencies needs `require` (SST adds the same banner).
  banner: {
    js: 'import { createRequire as topLevelCreateRequire } from "module"; const require = topLevelCreateRequire(import.meta.url);',
  },
};

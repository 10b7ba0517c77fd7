// infra/bundling.ts: the esbuild plugins every Lambda bundle is built with, checked as esbuild runs them
// (scripts/bundle-size.ts) and as SST runs them. SST loads the file named by `nodejs.plugins` in its
// plugin bridge (.sst/platform/functions/nodejs-runtime/plugin.mjs, one JSON line per resolve or load
// request from SST's Go build): only onResolve and onLoad, each `filter` tested against the path alone,
// whatever the namespace, and a callback's answer passed back as it is.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_OPTIONS, BUNDLE_PLUGINS, BUNDLE_PLUGINS_FILE } from "../../infra/bundling.ts";
import { platformInstalled, ROOT } from "./harness.ts";

const MODULES = join(ROOT, "node_modules");
const ZOD = join(MODULES, "zod", "v4");
const CLIENT_NODE = join(MODULES, "@kubernetes", "client-node", "dist");

/** The files that contribute code to the bundle (esbuild's metafile also lists the ones it dropped). */
async function bundledFiles(entry: string): Promise<string[]> {
  const result = await build({
    ...BUNDLE_OPTIONS,
    stdin: { contents: entry, resolveDir: ROOT },
    write: false,
    metafile: true,
  });
  return Object.values(result.metafile?.outputs ?? {}).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([file]) => file),
  );
}

describe("the bundle plugins under esbuild", () => {
  it("keeps zod's English messages only", async () => {
    const inputs = await bundledFiles('import { z } from "zod"; console.log(z.string().safeParse(1));');
    expect(inputs.some((i) => i.endsWith("zod/v4/locales/en.js"))).toBe(true);
    expect(inputs.filter((i) => /zod\/v4\/locales\/(?!en\.js)/.test(i))).toEqual([]);
  });

  it("drops client-node's generated API and model classes that nothing uses", async () => {
    const generated = (
      await bundledFiles(
        'import { KubeConfig } from "@kubernetes/client-node/dist/config.js"; console.log(new KubeConfig());',
      )
    ).filter((i) => i.includes("client-node/dist/gen/"));
    // createConfiguration and its HTTP plumbing stay; no model, API class or wrapper does.
    expect(generated.length).toBeGreaterThan(0);
    expect(generated.filter((i) => /\/gen\/(models|types)\/|\/gen\/apis\/(?!exception)/.test(i))).toEqual([]);
  });
});

describe("client-node's undici in a bundle", () => {
  const entry =
    'import { KubeConfig } from "@kubernetes/client-node/dist/config.js"; export const kubeConfig = () => new KubeConfig();';

  it("is required only from inside the on-demand stand-in, never imported at start", async () => {
    const result = await build({
      ...BUNDLE_OPTIONS,
      stdin: { contents: entry, resolveDir: ROOT },
      write: false,
      metafile: true,
    });
    // client-node's modules import the stand-in (namespace client-node-undici-on-demand); the real
    // undici is only `require`d, lazily, from inside it.
    const imports = Object.entries(result.metafile?.inputs ?? {}).flatMap(([file, input]) =>
      input.imports
        .filter((i) => /^node_modules\/.*\/undici\/index\.js$/.test(i.path))
        .map((i) => ({ from: file.split(":")[0], kind: i.kind })),
    );
    expect(imports).toEqual([{ from: "client-node-undici-on-demand", kind: "require-call" }]);
  });

  it("is the real undici once client-node uses it", async () => {
    const outfile = join(mkdtempSync(join(tmpdir(), "kb-undici-")), "index.mjs");
    await build({ ...BUNDLE_OPTIONS, stdin: { contents: entry, resolveDir: ROOT }, outfile });
    const { kubeConfig } = (await import(outfile)) as {
      kubeConfig: () => { createDispatcher(cluster: unknown, options: unknown): unknown };
    };
    const dispatcher = kubeConfig().createDispatcher(
      { name: "c", server: "https://k8s.example", skipTLSVerify: false },
      { ca: "not-a-real-ca" },
    ) as { dispatch: unknown; close: unknown; destroy: unknown };
    // undici's Agent, not the stand-in (whose constructor returns it).
    expect([typeof dispatcher.dispatch, typeof dispatcher.close, typeof dispatcher.destroy]).toEqual([
      "function",
      "function",
      "function",
    ]);
  });
});

describe.skipIf(!platformInstalled())("the bundle plugins in SST's plugin bridge", () => {
  let bridge: ReturnType<typeof spawn>;
  const pending = new Map<number, (value: Record<string, unknown>) => void>();
  let next = 0;
  const ask = (command: "resolve" | "load", value: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      bridge.stdin?.write(`${JSON.stringify({ id, command, path: value["path"], value })}\n`);
    });

  beforeAll(() => {
    // As SST's Go build starts it: `node <bridge> <cwd>/<nodejs.plugins>`.
    bridge = spawn(
      process.execPath,
      [
        join(ROOT, ".sst", "platform", "functions", "nodejs-runtime", "plugin.mjs"),
        join(ROOT, BUNDLE_PLUGINS_FILE),
      ],
      { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] },
    );
    createInterface({ input: bridge.stdout! }).on("line", (line) => {
      const reply = JSON.parse(line) as { id: number; value: Record<string, unknown> };
      pending.get(reply.id)?.(reply.value);
      pending.delete(reply.id);
    });
  });
  afterAll(() => {
    bridge?.kill();
  });

  it("loads the file's default export, the same plugins esbuild gets", async () => {
    const exported = (await import(join(ROOT, BUNDLE_PLUGINS_FILE))) as { default: unknown };
    expect(exported.default).toBe(BUNDLE_PLUGINS);
    expect(BUNDLE_OPTIONS.plugins).toBe(BUNDLE_PLUGINS);
  });

  it("resolves zod's locale index to English, and loads it", async () => {
    const resolved = await ask("resolve", {
      path: "../locales/index.js",
      importer: join(ZOD, "classic", "external.js"),
      namespace: "file",
      resolveDir: join(ZOD, "classic"),
      kind: "import-statement",
    });
    expect(resolved).toEqual({ path: join(ZOD, "locales", "en.js"), namespace: "zod-locales" });
    const loaded = await ask("load", { path: resolved["path"], namespace: "zod-locales" });
    expect(loaded).toEqual({
      contents: `export { default as en } from ${JSON.stringify(join(ZOD, "locales", "en.js"))};`,
      resolveDir: join(ZOD, "locales"),
      loader: "js",
    });
  });

  it("marks client-node's generated modules side-effect free, stands in for its undici, and leaves the rest to esbuild", async () => {
    expect(
      await ask("resolve", {
        path: "./gen/index.js",
        importer: join(CLIENT_NODE, "config.js"),
        namespace: "file",
        resolveDir: CLIENT_NODE,
        kind: "import-statement",
      }),
    ).toEqual({ path: join(CLIENT_NODE, "gen", "index.js"), sideEffects: false });
    const undici = await ask("resolve", {
      path: "undici",
      importer: join(CLIENT_NODE, "config.js"),
      namespace: "file",
      resolveDir: CLIENT_NODE,
      kind: "import-statement",
    });
    expect(undici).toEqual({
      path: join(CLIENT_NODE, "..", "node_modules", "undici", "index.js"),
      namespace: "client-node-undici-on-demand",
    });
    expect(await ask("load", undici)).toMatchObject({
      contents: expect.stringContaining(`require(${JSON.stringify(undici["path"])})`),
      loader: "js",
    });
    // Every other resolve and every other load: no answer, esbuild's own resolution and loaders.
    expect(
      await ask("resolve", {
        path: "./config.js",
        importer: join(CLIENT_NODE, "index.js"),
        namespace: "file",
        resolveDir: CLIENT_NODE,
        kind: "import-statement",
      }),
    ).toEqual({});
    expect(
      await ask("resolve", {
        path: "./lib/handler.ts",
        importer: join(ROOT, "packages", "functions", "src", "notify.ts"),
        namespace: "file",
        resolveDir: join(ROOT, "packages", "functions", "src"),
        kind: "import-statement",
      }),
    ).toEqual({});
    expect(
      await ask("load", { path: join(ROOT, "packages", "functions", "src", "notify.ts"), namespace: "file" }),
    ).toEqual({});
  });
});

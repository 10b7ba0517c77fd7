// `npm run build:package`: the publishable `kots-backup` npm package, self-contained, in dist/package
// (or `--out <dir>`). Node does not strip types under node_modules, so the TypeScript the clone runs
// directly is bundled here: the CLI and the demo (with the sandbox it starts), every dependency
// included, so installing the tarball needs no registry. `npm pack ./dist/package` makes the tarball;
// deploy/Containerfile builds the daemon's image from the same folder.
//   node scripts/build-package.ts [--out <dir>]
//
// Layout: bin/<command>.js (the entry points), lib/*.js (chunks shared between them, and the command
// implementations commands/index.ts loads lazily, so `--help` still loads none of them), and the files
// the code reads at run time (ASSETS). Every .js file sits one folder below the package root.
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { build, type Metafile, type Plugin } from "esbuild";
import { BUNDLE_OPTIONS } from "../infra/bundling.ts";

const ROOT = resolve(import.meta.dirname, "..");
export const PACKAGE_DIR = join(ROOT, "dist", "package");

/** The package's commands: bin name → the TypeScript entry point. */
export const COMMANDS = {
  "kots-backup": "packages/cli/src/bin.ts",
  "kots-backup-demo": "packages/cli/src/demo.ts",
} as const;

/**
 * Files the code reads at run time, found from the reading module with `new URL(<url>, import.meta.url)`:
 * in the clone relative to the module's source file, in the package relative to the bundle file the
 * module ends up in (one folder below the root). The build copies each one into the package and
 * rewrites that URL (and fails when a module no longer says it as written here).
 */
const ASSETS = [
  {
    module: "packages/adapters/src/doctor/rbac.ts",
    url: "../../../../deploy/rbac.yaml",
    from: "deploy/rbac.yaml",
    to: "deploy/rbac.yaml",
  },
  {
    module: "packages/sandbox/src/k8s/crds.ts",
    url: "../../fixtures/velero-crds/",
    from: "packages/sandbox/fixtures/velero-crds/",
    to: "fixtures/velero-crds/",
  },
] as const;

/** Copied as they are: the docs name them (README and the docs/ pages it links, schema, example config) and the license. */
const DOCS = ["README.md", "LICENSE", "kots-backup.schema.json", "kots-backup.example.yaml", "docs"] as const;
const NOTICES = "THIRD-PARTY-NOTICES.md";

const assetUrls: Plugin = {
  name: "kots-backup-package-assets",
  setup(b) {
    for (const asset of ASSETS) {
      const file = join(ROOT, asset.module);
      const filter = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
      b.onLoad({ filter }, () => {
        const source = readFileSync(file, "utf8");
        const literal = JSON.stringify(asset.url);
        if (source.split(literal).length !== 2) {
          throw new Error(
            `${asset.module} no longer reads ${literal} with new URL(…, import.meta.url) exactly once: update ASSETS in scripts/build-package.ts`,
          );
        }
        return { contents: source.replace(literal, JSON.stringify(`../${asset.to}`)), loader: "ts" };
      });
    }
  },
};

/** The folder of the npm package an input file belongs to, or undefined for the workspace's own code. */
function packageDirOf(input: string): string | undefined {
  const path = input.replace(/^[a-z-]+:/, "");
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(path);
  return match?.[1] ? resolve(ROOT, match[1]) : undefined;
}

/** Name, version, license and license text of every npm package with code in the bundle. */
function thirdPartyNotices(metafile: Metafile): string {
  const dirs = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const dir = bytesInOutput > 0 ? packageDirOf(input) : undefined;
      if (dir) dirs.add(dir);
    }
  }
  const entries = [...dirs].map((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name: string;
      version: string;
      license?: string;
    };
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    return { ...pkg, text: file ? readFileSync(join(dir, file), "utf8").trim() : undefined };
  });
  entries.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  // One section per distinct license text: most of the AWS SDK's packages ship the same file.
  const byText = new Map<string, string[]>();
  for (const e of entries) {
    const text =
      e.text ?? `(the package ships no license file; its package.json says ${e.license ?? "nothing"})`;
    byText.set(text, [...(byText.get(text) ?? []), `${e.name}@${e.version} (${e.license ?? "not stated"})`]);
  }
  const sections = [...byText].map(
    ([text, names]) => `## ${names.join(", ")}\n\n\`\`\`\n${text.replaceAll("```", "'''")}\n\`\`\`\n`,
  );
  return `# Third-party notices\n\nkots-backup's bundle includes these npm packages.\n\n${sections.join("\n")}`;
}

/** Builds the package into `outDir` (emptied first) and returns its package.json. */
export async function buildPackage(outDir: string = PACKAGE_DIR): Promise<Record<string, unknown>> {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const result = await build({
    ...BUNDLE_OPTIONS,
    // The package runs on the Node its engines allow, not only the Lambdas' Node 24.
    target: "node22",
    plugins: [...(BUNDLE_OPTIONS.plugins ?? []), assetUrls],
    entryPoints: Object.fromEntries(
      Object.entries(COMMANDS).map(([name, entry]) => [name, join(ROOT, entry)]),
    ),
    outdir: outDir,
    entryNames: "bin/[name]",
    chunkNames: "lib/[name]-[hash]",
    splitting: true,
    metafile: true,
    // The metafile's paths are relative to this, whatever the current directory.
    absWorkingDir: ROOT,
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs).map((o) => relative(outDir, resolve(ROOT, o)));
  const misplaced = outputs.filter((o) => !/^(bin|lib)\/[^/]+\.js$/.test(o));
  if (misplaced.length) throw new Error(`bundle files outside bin/ and lib/: ${misplaced.join(", ")}`);

  const bin: Record<string, string> = {};
  for (const name of Object.keys(COMMANDS)) {
    const file = join(outDir, "bin", `${name}.js`);
    const code = readFileSync(file, "utf8");
    // npm links bin files as they are: they must be executable scripts (bin.ts has its own #! line).
    if (!code.startsWith("#!")) writeFileSync(file, `#!/usr/bin/env node\n${code}`);
    chmodSync(file, 0o755);
    bin[name] = `bin/${name}.js`;
  }
  for (const asset of ASSETS) {
    cpSync(join(ROOT, asset.from), join(outDir, asset.to), { recursive: true });
  }
  for (const doc of DOCS) {
    if (!existsSync(join(ROOT, doc))) throw new Error(`${doc} is missing at the repository root`);
    cpSync(join(ROOT, doc), join(outDir, doc), { recursive: true });
  }
  writeFileSync(join(outDir, NOTICES), thirdPartyNotices(result.metafile));

  // npm packs package.json, README.md and LICENSE whatever `files` says.
  const files = [...new Set(["bin", "lib", ...ASSETS.map((a) => a.to.split("/")[0] as string)])];
  files.push(...DOCS.filter((d) => d !== "README.md" && d !== "LICENSE"), NOTICES);
  const manifest = {
    name: "kots-backup",
    version: root["version"],
    description: root["description"],
    license: root["license"],
    type: "module",
    bin,
    // No dependencies: everything is in bin/ and lib/. `files` is what npm pack and the image take.
    files,
    engines: root["engines"],
  };
  writeFileSync(join(outDir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

// Run as a script (imported by test/package, it only exports).
if (process.argv[1] === import.meta.filename) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--out");
  const outDir = outIndex >= 0 && args[outIndex + 1] ? resolve(args[outIndex + 1] as string) : PACKAGE_DIR;
  const started = Date.now();
  const manifest = await buildPackage(outDir);
  // `./`: npm reads a bare `dist/package` as a GitHub repository.
  const here = (path: string) =>
    relative(process.cwd(), path).startsWith("..") ? path : `./${relative(process.cwd(), path)}`;
  process.stdout.write(
    `built ${manifest["name"]}@${manifest["version"]} in ${here(outDir)} (${Date.now() - started} ms)\n` +
      `  tarball: npm pack ${here(outDir)}\n` +
      `  image:   docker build -f ${here(join(ROOT, "deploy", "Containerfile"))} -t <registry>/kots-backup:${manifest["version"]} ${here(outDir)}\n`,
  );
}

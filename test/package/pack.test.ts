// The published package (scripts/build-package.ts): built once, `npm pack`ed, installed from the
// tarball into an empty folder with the registry unreachable, and run from there: `--help`, `doctor`
// against the sandbox, the demo up to its verified export. Then deploy/Containerfile: its install step
// run as written (into a stand-in for the image's /usr/local) and checked against the package and the
// Kubernetes Deployment that runs the image.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { buildPackage } from "../../scripts/build-package.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const COMMANDS = ["backup", "ls", "silence", "verify", "status", "export", "daemon", "doctor"];

let work: string;
let packageDir: string;
let manifest: { name: string; version: string; bin: Record<string, string>; engines: { node: string } };
let packed: { filename: string; files: { path: string }[] };
let app: string;

/**
 * The children's environment: this Node first on PATH (the bin files run `/usr/bin/env node`), no
 * npm_* variables from an enclosing `npm test` (npm_config_prefix would redirect installs), a private
 * npm cache and user config, and a registry nobody listens on: an install that needs it fails.
 */
function env(): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return {
    ...clean,
    PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`,
    npm_config_cache: join(work, "npm-cache"),
    npm_config_userconfig: join(work, "npmrc"),
    npm_config_registry: "http://127.0.0.1:9/",
    npm_config_update_notifier: "false",
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; `onOutput` sees the stdout so far and may signal the child. */
function run(
  command: string,
  args: string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    onOutput?: (stdout: string, child: ChildProcess) => void;
  } = {},
): Promise<Run> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? work,
    env: options.env ?? env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onOutput?.(stdout, child);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(command: string, args: string[], cwd?: string): Promise<string> {
  const result = await run(command, args, cwd ? { cwd } : {});
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "kb-package-"));
  writeFileSync(join(work, "npmrc"), "");
  packageDir = join(work, "package");
  manifest = (await buildPackage(packageDir)) as typeof manifest;
  const tarballs = join(work, "tarballs");
  mkdirSync(tarballs);
  const out = await ok("npm", ["pack", "--json", "--pack-destination", tarballs, packageDir]);
  packed = (JSON.parse(out) as (typeof packed)[])[0] as typeof packed;
  app = join(work, "app");
  mkdirSync(app);
  await ok(
    "npm",
    ["install", "--offline", "--no-audit", "--no-fund", "--prefix", app, join(tarballs, packed.filename)],
    app,
  );
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("packs the bundle, the files it reads at run time, the docs and the license, with no dependencies", () => {
    const files = packed.files.map((f) => f.path);
    for (const file of [
      "package.json",
      "README.md",
      "docs/restore.md",
      "LICENSE",
      "THIRD-PARTY-NOTICES.md",
      "bin/kots-backup.js",
      "bin/kots-backup-demo.js",
      "deploy/rbac.yaml",
      "fixtures/velero-crds/velero.io_backups.yaml",
      "kots-backup.example.yaml",
    ]) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
    const installed = JSON.parse(
      readFileSync(join(app, "node_modules", "kots-backup", "package.json"), "utf8"),
    );
    expect(installed).toMatchObject({ name: "kots-backup", bin: manifest.bin, engines: manifest.engines });
    expect(installed.dependencies).toBeUndefined();
    // Nothing in it points back at this checkout.
    const leaks = files.filter((f) => readFileSync(join(packageDir, f), "utf8").includes(ROOT));
    expect(leaks).toEqual([]);
  });

  it("`kots-backup --help` runs from the installed package and lists every command", async () => {
    const { code, stdout } = await run(join(app, "node_modules", ".bin", "kots-backup"), ["--help"]);
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
  });

  describe("`kots-backup --json doctor`", () => {
    let sandbox: Sandbox | undefined;
    afterEach(async () => {
      await sandbox?.stop();
      sandbox = undefined;
    });

    it("passes every check against the sandbox, the RBAC lines read from the package's deploy/rbac.yaml", async () => {
      sandbox = await startSandbox({ clock: "real" });
      const config = join(work, "doctor.yaml");
      writeFileSync(
        config,
        [
          "cluster:",
          "  name: package-test",
          `  kubeconfig: ${sandbox.kubeconfigPath}`,
          "export:",
          `  destination: file://${join(work, "doctor-data")}`,
          "",
        ].join("\n"),
      );
      const bin = join(app, "node_modules", ".bin", "kots-backup");
      const { code, stdout, stderr } = await run(bin, ["--config", config, "--json", "doctor"]);
      const report = JSON.parse(stdout) as { checks: { name: string; ok: boolean }[] };
      expect(
        report.checks.filter((c) => !c.ok),
        stderr,
      ).toEqual([]);
      expect(code).toBe(0);
      const names = report.checks.map((c) => c.name);
      for (const name of ["kubeconfig", "api", "kotsadm auth", "bsl", "destination writable"]) {
        expect(names).toContain(name);
      }
      expect(names).toContain("permission create pods/portforward in namespace default");
    }, 60_000);

    it("exits 3 with a JSON error when there is no kubeconfig at all", async () => {
      const bin = join(app, "node_modules", ".bin", "kots-backup");
      const { code, stdout } = await run(bin, ["--json", "doctor"], {
        env: { ...env(), KUBECONFIG: join(work, "no-such-kubeconfig"), HOME: work },
      });
      expect(code).toBe(3);
      expect(JSON.parse(stdout)).toMatchObject({ error: { code: "kubeconfig-missing" } });
    });
  });

  it("`kots-backup-demo` gets to a verified export of its scheduled backup, and stops on Ctrl-C", async () => {
    let interrupted = false;
    const { code, stdout, stderr } = await run(join(app, "node_modules", ".bin", "kots-backup-demo"), [], {
      onOutput: (out, child) => {
        if (!interrupted && out.includes("STEP 1 done")) {
          interrupted = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(stderr).not.toMatch(/error|unhandled/i);
    expect(stdout).toMatch(/exported and verified instance-\S+: \d+ objects/);
    expect(stdout).toContain("STEP 1 done");
    expect(stdout).toContain("demo interrupted");
    expect(code).toBe(0);
  }, 120_000);
});

/** The Containerfile's instructions, continuation lines joined. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => line.trim() && !line.trimStart().startsWith("#"))
    .map((line) => {
      const [op = "", ...rest] = line.trim().split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

describe("deploy/Containerfile", () => {
  const steps = instructions(readFileSync(join(ROOT, "deploy", "Containerfile"), "utf8"));
  const one = (op: string) => {
    const found = steps.filter((s) => s.op === op);
    expect(found, op).toHaveLength(1);
    return (found[0] as { args: string }).args;
  };

  it("installs the package from the build context (as written) and runs its kots-backup command", async () => {
    const [, major] = /^node:(\d+)-slim$/.exec(one("FROM")) ?? [];
    expect(Number(major)).toBeGreaterThanOrEqual(Number(/\d+/.exec(manifest.engines.node)?.[0]));
    expect(steps.filter((s) => s.op === "COPY" || s.op === "ADD")).toEqual([]);

    // The RUN step with the build context bind-mounted, run here with /usr/local → <root>/usr/local.
    const runStep = one("RUN");
    const target = /--mount=type=bind,target=(\S+)/.exec(runStep)?.[1];
    expect(target).toBeDefined();
    const install = runStep
      .replace(/^(--\S+\s+)+/, "")
      .split("&&")
      .map((c) => c.trim())
      .find((c) => c.startsWith("npm install"));
    const args = (install ?? "").split(/\s+/).slice(1);
    expect(args).toContain("--global");
    const usrLocal = join(work, "image", "usr", "local");
    const replaced = args.map((a) => (a === target ? packageDir : a));
    expect(replaced).toContain(packageDir);
    await ok("npm", [...replaced, "--prefix", usrLocal]);

    const entrypoint = JSON.parse(one("ENTRYPOINT")) as string[];
    const cmd = JSON.parse(one("CMD")) as string[];
    expect(entrypoint).toEqual(["kots-backup"]);
    expect(cmd).toEqual(["daemon"]);
    expect(Object.keys(manifest.bin)).toContain(entrypoint[0]);
    // What the image holds is what the tarball holds.
    const image = join(usrLocal, "lib", "node_modules", "kots-backup");
    for (const { path } of packed.files) expect(statSync(join(image, path)).isFile(), path).toBe(true);
    expect(readdirSync(image).sort()).toEqual(
      [...new Set(packed.files.map((f) => f.path.split("/")[0]))].sort(),
    );

    const help = await run(join(usrLocal, "bin", entrypoint[0] as string), ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^  ${cmd[0]}\\b`, "m"));
  }, 60_000);

  it("runs as the non-root user the Deployment asks for, and the Deployment names its image and keeps its entrypoint", () => {
    const [uid] = one("USER").split(":");
    expect(Number(uid)).toBeGreaterThan(0);
    const deployment = parseAllDocuments(
      readFileSync(join(ROOT, "deploy", "kubernetes", "deployment.yaml"), "utf8"),
    )
      .map((d) => d.toJS())
      .find((d) => d?.kind === "Deployment");
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsUser).toBe(Number(uid));
    const [container] = pod.containers;
    expect(container.image).toBe(`ghcr.io/<org>/kots-backup:${manifest.version}`);
    expect(container.command).toBeUndefined();
    expect(container.workingDir).toBeUndefined();
    expect(container.args.at(-1)).toBe("daemon");
    expect(container.args[0]).toMatch(/^--/);
  });
});

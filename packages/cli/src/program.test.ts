import { execFile } from "node:child_process";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { main } from "./program.ts";

const repoRoot = join(import.meta.dirname, "..", "..", "..");

// Runs `kots-backup <argv>` in a fresh Node and lists every module it loaded (commands/index.ts's promise).
const listLoads = `
import { registerHooks } from "node:module";
const loaded = [];
registerHooks({ load: (url, context, next) => (loaded.push(url), next(url, context)) });
await import("./commands/index.ts");
const { main } = await import("./program.ts");
const sink = { write: () => true };
await main(process.argv.slice(1), { stdout: sink, stderr: sink });
process.stdout.write(JSON.stringify(loaded));
`;

function streams() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const read = (s: PassThrough) => () => (s.read() ?? "").toString();
  return { streams: { stdout, stderr }, stdout: read(stdout), stderr: read(stderr) };
}

describe("kots-backup CLI", () => {
  it("prints help and exits 0", async () => {
    const io = streams();
    const code = await main(["--help"], io.streams);
    expect(code).toBe(0);
    expect(io.stdout()).toContain("Usage: kots-backup");
  });

  it("rejects an unknown option with exit 2 and one JSON error document under --json", async () => {
    const io = streams();
    const code = await main(["--json", "--no-such-flag"], io.streams);
    expect(code).toBe(2);
    expect(JSON.parse(io.stdout())).toEqual({
      error: { code: "usage", message: "unknown option '--no-such-flag'", fix: "see `kots-backup --help`" },
    });
  });

  it("loads no command implementation for --help, <cmd> --help or no arguments", async () => {
    for (const argv of [["--help"], ["ls", "--help"], ["export", "--help"], []]) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", listLoads, "--", ...argv],
        { cwd: import.meta.dirname },
      );
      const loaded = (JSON.parse(stdout) as string[]).filter((url) => !url.startsWith("node:"));
      const project = loaded.filter((url) => !url.includes("/node_modules/commander/"));
      expect(project.map((url) => url.replace(/^.*\/packages\//, ""))).toEqual([
        "cli/src/commands/index.ts",
        "cli/src/program.ts",
        "core/src/errors.ts",
        "cli/src/output.ts",
        "core/src/text.ts",
      ]);
    }
  });

  it("runs as `npx kots-backup --help` from the repo root", async () => {
    const { stdout } = await promisify(execFile)("npx", ["--no-install", "kots-backup", "--help"], {
      cwd: repoRoot,
      env: { ...process.env, PATH: `${join(repoRoot, "node_modules", ".bin")}:${process.env.PATH}` },
    });
    expect(stdout).toContain("Usage: kots-backup");
  });
});

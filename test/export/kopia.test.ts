// The repository mirror, proven on a real kopia repository: kopia (built from its Go module at a pinned
// version) creates a repository with a snapshot in the source BSL on the S3 peer; after two exports (the
// second after a new snapshot), `kopia snapshot verify` with every file read passes against the
// exported `<p>/velero/kopia/<ns>/`. Skipped, with the reason, when Go or the S3 peer is missing.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AWS_TEST_CREDENTIALS, motoEndpoint } from "../support/peers.ts";
import { type ExportEnv, keysOf, motoStore, openExportEnv } from "./support.ts";

const run = promisify(execFile);
export const KOPIA_VERSION = "v0.21.1";
const KOPIA_DIR = join(import.meta.dirname, "..", "..", ".peers", "kopia", KOPIA_VERSION);
const KOPIA = join(KOPIA_DIR, "kopia");
/** A namespace with no sandbox pods, so the sandbox's simulated blobs never mix with the real repository. */
const VOLUME_NAMESPACE = "app-data";
const PASSWORD = "not-the-velero-default-password";

function goAvailable(): boolean {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const skipReason = !motoEndpoint()
  ? "moto peer missing: npm run setup"
  : !existsSync(KOPIA) && !goAvailable()
    ? "Go is not installed, so kopia cannot be built"
    : undefined;
const describeKopia = skipReason
  ? (name: string, body: () => void) => describe.skip(`${name} (${skipReason})`, body)
  : describe;

/** Builds kopia from its module at KOPIA_VERSION into .peers/kopia/<version>/ (once per machine). */
function buildKopia(): void {
  if (existsSync(KOPIA)) return;
  const work = mkdtempSync(join(tmpdir(), "kopia-build-"));
  try {
    writeFileSync(
      join(work, "go.mod"),
      `module kopiabuild\n\ngo 1.24\n\nrequire github.com/kopia/kopia ${KOPIA_VERSION}\n`,
    );
    writeFileSync(
      join(work, "tools.go"),
      '//go:build tools\n\npackage tools\n\nimport _ "github.com/kopia/kopia"\n',
    );
    mkdirSync(KOPIA_DIR, { recursive: true });
    execFileSync("go", ["build", "-o", `${KOPIA}.tmp`, "github.com/kopia/kopia"], {
      cwd: work,
      env: { ...process.env, GOFLAGS: "-mod=mod" },
      stdio: "ignore",
    });
    execFileSync("mv", [`${KOPIA}.tmp`, KOPIA]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describeKopia(`kopia ${KOPIA_VERSION} repository mirrored by the export`, () => {
  let env: ExportEnv | undefined;
  const scratch = mkdtempSync(join(tmpdir(), "kopia-proof-"));
  beforeAll(() => buildKopia(), 900_000);
  afterAll(async () => {
    await env?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const endpoint = () => new URL(motoEndpoint()).host;
  const kopia = (config: string, ...args: string[]) =>
    run(KOPIA, [...args, `--config-file=${join(scratch, config)}`], {
      env: {
        ...process.env,
        KOPIA_CHECK_FOR_UPDATES: "false",
        KOPIA_PASSWORD: PASSWORD,
        KOPIA_CACHE_DIRECTORY: join(scratch, `${config}-cache`),
        KOPIA_LOG_DIR: join(scratch, "logs"),
      },
      maxBuffer: 16 * 1024 * 1024,
    });
  const s3Args = (bucket: string, prefix: string) => [
    "s3",
    `--bucket=${bucket}`,
    `--prefix=${prefix}`,
    `--endpoint=${endpoint()}`,
    "--disable-tls",
    "--region=us-east-1",
    `--access-key=${AWS_TEST_CREDENTIALS.accessKeyId}`,
    `--secret-access-key=${AWS_TEST_CREDENTIALS.secretAccessKey}`,
  ];

  it("`kopia snapshot verify` reads every file of both snapshots from the exported prefix", async () => {
    const bsl = await motoStore("");
    env = await openExportEnv({ store: bsl, bucket: bsl.bucket });
    const dest = await motoStore("");
    const data = join(scratch, "data");
    mkdirSync(data, { recursive: true });
    for (let i = 0; i < 20; i++)
      writeFileSync(join(data, `file-${i}.txt`), `first generation ${i}\n`.repeat(200 + i));

    await kopia("source.config", "repository", "create", ...s3Args(bsl.bucket, `kopia/${VOLUME_NAMESPACE}/`));
    await kopia("source.config", "snapshot", "create", data);
    await env.sandbox.scenario.addBackup({ name: "instance-kopia1" });
    const first = await env.run({ backup: "instance-kopia1" }, dest, { serverSideCopy: true });
    expect(first.verified).toBe(true);

    for (let i = 10; i < 30; i++)
      writeFileSync(join(data, `file-${i}.txt`), `second generation ${i}\n`.repeat(300 + i));
    await kopia("source.config", "snapshot", "create", data);
    await env.sandbox.scenario.addBackup({ name: "instance-kopia2" });
    const second = await env.run({ backup: "instance-kopia2" }, dest, { serverSideCopy: true });
    expect(second.verified).toBe(true);
    expect(second.skippedObjects).toBeGreaterThan(0);

    const mirrored = await keysOf(dest, `velero/kopia/${VOLUME_NAMESPACE}/`);
    expect(mirrored.length).toBe((await keysOf(bsl, `kopia/${VOLUME_NAMESPACE}/`)).length);
    await kopia(
      "export.config",
      "repository",
      "connect",
      ...s3Args(dest.bucket, `velero/kopia/${VOLUME_NAMESPACE}/`),
      "--readonly",
    );
    const list = await kopia("export.config", "snapshot", "list", "--all", "--json");
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
    const verify = await kopia(
      "export.config",
      "snapshot",
      "verify",
      "--verify-files-percent=100",
      "--file-parallelism=4",
    );
    expect(`${verify.stdout}${verify.stderr}`).not.toMatch(/error/i);

    // The check has teeth: with one pack blob gone from the export, the same verify fails.
    const pack = mirrored.find((key) => /\/p[0-9a-f]+/.test(key));
    expect(pack).toBeDefined();
    await dest.delete(pack!);
    const broken = await kopia("export.config", "snapshot", "verify", "--verify-files-percent=100").catch(
      (error: { stderr?: string }) => error,
    );
    expect(broken).toBeInstanceOf(Error);
    expect((broken as { stderr?: string }).stderr).toMatch(/missing blob/);
  }, 300_000);
});

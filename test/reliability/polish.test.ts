// Polish seen on the way (issue #18), each through what a user sees: timestamps on human log lines, one
// spelling of `error:`, doctor's pass/fail/skip counts, no Velero-namespace line on every command, bad
// values echoed and misspelled keys answered with "did you mean", `--scope full` without `export.bsl`
// refused as a config problem before any side effect, `sst:` references explained for a local run, and
// examples/local.yaml run as is against `npm run sandbox`.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { type DoctorCheck, doctorSummary } from "@kots-backup/adapters/doctor/types";
import { EnvironmentError, type InputError } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveSecret } from "../../packages/adapters/src/secrets/resolve.ts";
import { renderDoctor } from "../../packages/cli/src/commands/doctor.ts";
import { createOutput } from "../../packages/cli/src/output.ts";
import { recordCaptured } from "../support/capture.ts";
import {
  cli,
  filesUnder,
  type LoggedSandbox,
  loggedSandbox,
  tempDir,
  writeConfig,
} from "./support/harness.ts";
import { registerSecrets } from "./support/secrets.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = join(ROOT, "packages/cli/src/bin.ts");
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function captured() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => {
    text.out += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    text.err += c.toString();
  });
  return { streams: { stdout, stderr }, text };
}

function thrown(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    return error as InputError;
  }
  throw new Error("expected a throw");
}

describe("human log lines", () => {
  it("start with an RFC 3339 UTC timestamp, then the level (none for info)", () => {
    const { streams, text } = captured();
    const out = createOutput(false, streams);
    const before = Date.now();
    out.log("info", "following backup", { backup: "b1" });
    out.log("warn", "retrying", { attempt: 2 });
    out.log("error", "export failed");
    const after = Date.now();
    const lines = text.err.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const parts = lines.map((l) => /^(\S+) (.*)$/.exec(l)?.slice(1) ?? []);
    expect(parts.map(([, rest]) => rest)).toEqual([
      "following backup backup=b1",
      "warn: retrying attempt=2",
      "error: export failed",
    ]);
    for (const [time] of parts) {
      expect(time).toMatch(RFC3339_UTC);
      const ms = Date.parse(time ?? "");
      expect(ms).toBeGreaterThanOrEqual(before - (before % 1000));
      expect(ms).toBeLessThanOrEqual(after);
    }
  });
});

describe("one spelling of error:", () => {
  it("a usage error is said once, as `error:` with its fix, in human mode", async () => {
    for (const args of [
      ["--bogus", "ls"],
      ["ls", "extra-arg"],
      ["export", "--scope", "nonsense", "b1"],
    ]) {
      const run = await cli(args);
      expect(run.code, args.join(" ")).toBe(2);
      const errors = run.stderr.split("\n").filter((l) => /^\s*error\b/i.test(l));
      expect(errors, `${args.join(" ")}:\n${run.stderr}`).toHaveLength(1);
      expect(errors[0]).toMatch(/^error: /);
      expect(run.stderr).toMatch(/\n {2}fix: see `kots-backup --help`\n$/);
    }
  });

  it("a log line at level error and a command's error use the same word", async () => {
    const { streams, text } = captured();
    createOutput(false, streams).log("error", "x");
    const run = await cli(["--config", "/nonexistent/kots-backup.yaml", "ls"]);
    expect(text.err).toMatch(/^\S+ error: x\n$/);
    expect(run.stderr).toMatch(/^error: --config: /);
    expect(`${text.err}${run.stderr}`).not.toMatch(/Error:|ERROR/);
  });
});

describe("doctor counts passed, failed and skipped apart", () => {
  const checks: DoctorCheck[] = [
    { name: "a", ok: true, detail: "fine" },
    { name: "b", ok: true, detail: "fine" },
    { name: "c", ok: false, detail: "broken", fix: "mend it" },
    { name: "d", ok: true, skipped: true, detail: "skipped: not applicable" },
    { name: "e", ok: false, skipped: true, detail: "not checked: c failed" },
  ];

  it("summary: a not-checked line is skipped, not failed; the text says all three", () => {
    expect(doctorSummary(checks)).toEqual({ passed: 2, failed: 1, skipped: 2 });
    const text = renderDoctor({ checks, summary: doctorSummary(checks) });
    expect(text.split("\n").at(-1)).toBe("2 passed, 1 failed, 2 skipped (5 checks)");
    const clean = checks.slice(0, 2);
    expect(
      renderDoctor({ checks: clean, summary: doctorSummary(clean) })
        .split("\n")
        .at(-1),
    ).toBe("2 passed, 0 failed, 0 skipped (2 checks)");
  });
});

describe("against the sandbox", () => {
  let env: LoggedSandbox;
  beforeAll(async () => {
    env = await loggedSandbox({ startTime: new Date() });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("doctor --json carries the counts, equal to its lines", async () => {
    const run = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, "--json", "doctor"], env.sandbox);
    const report = run.json as unknown as {
      checks: DoctorCheck[];
      summary: { passed: number; failed: number; skipped: number };
    };
    expect(report.summary).toEqual({
      passed: report.checks.filter((c) => c.ok && !c.skipped).length,
      failed: report.checks.filter((c) => !c.ok && !c.skipped).length,
      skipped: report.checks.filter((c) => c.skipped).length,
    });
    expect(report.summary.passed).toBeGreaterThan(5);
    // With no config, destination and alert channels are skipped.
    expect(report.summary.skipped).toBeGreaterThanOrEqual(3);
    const human = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, "doctor"], env.sandbox);
    expect(human.stdout).toMatch(
      new RegExp(
        `\\n${report.summary.passed} passed, ${report.summary.failed} failed, ${report.summary.skipped} skipped \\(${report.checks.length} checks\\)\\n$`,
      ),
    );
  });

  it("the Velero namespace is not logged by every command; doctor still names it", async () => {
    for (const args of [["ls"], ["--json", "ls"]]) {
      const run = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, ...args], env.sandbox);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/velero namespace/i);
    }
    const doctor = await cli(["--kubeconfig", env.sandbox.kubeconfigPath, "doctor"], env.sandbox);
    expect(doctor.stdout).toMatch(
      /PASS {2}velero: namespace velero \(from ConfigMap kotsadm-velero-namespace\)/,
    );
  });

  it("export in full scope without export.bsl: exit 2 naming export.bsl and the fix, before any side effect", async () => {
    const dir = tempDir("kb-polish-");
    const data = join(dir, "data");
    const cases = [
      { export: { destination: `file://${data}` }, flags: ["--scope", "full"] },
      { export: { destination: `file://${data}`, scope: "full" }, flags: [] },
    ];
    for (const { export: exportConfig, flags } of cases) {
      const config = writeConfig(dir, {
        cluster: { kubeconfig: env.sandbox.kubeconfigPath },
        export: exportConfig,
      });
      const api = env.apiRequests().length;
      const kotsadm = env.sandbox.kotsadm.requests.length;
      const revision = env.sandbox.state.resourceVersion;
      const run = await cli(["--config", config, "--json", "export", ...flags, "any-backup"], env.sandbox);
      expect(run.code, run.stdout + run.stderr).toBe(2);
      expect(run.json?.error).toMatchObject({
        field: "export.bsl",
        message: expect.stringContaining("export.bsl"),
        fix: expect.stringMatching(/export\.bsl.*--scope manifests|--scope manifests.*export\.bsl/),
      });
      expect(env.apiRequests().length).toBe(api);
      expect(env.sandbox.kotsadm.requests.length).toBe(kotsadm);
      expect(env.sandbox.state.resourceVersion).toBe(revision);
      expect(filesUnder(data)).toEqual([]);
      const human = await cli(["--config", config, "export", ...flags, "any-backup"], env.sandbox);
      expect(human.stderr).toMatch(/^error: .*export\.bsl.*\n {2}fix: .*export\.bsl/);
    }
  });

  it("an sst: reference outside Lambda says what to write for a local run (doctor's alert line)", async () => {
    const dir = tempDir("kb-polish-");
    const config = writeConfig(dir, {
      cluster: { kubeconfig: env.sandbox.kubeconfigPath },
      export: { destination: `file://${join(dir, "data")}` },
      alerts: { pagerDuty: { routingKey: "sst:PolishRoutingKey" } },
    });
    const run = await cli(["--config", config, "doctor"], env.sandbox);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL {2}alert channels: .*sst:PolishRoutingKey/);
    expect(run.stdout).toMatch(/ {6}fix: .*env:NAME or file:\/path/);
  });
});

describe("config errors", () => {
  const schedule = { name: "nightly", cron: "0 2 * * *" };

  it("echo the bad value", () => {
    const error = thrown(() => parseConfig({ schedules: [{ ...schedule, timezone: "Mars/Olympus" }] }));
    expect(error.message).toBe('schedules[0].timezone: "Mars/Olympus" is not an IANA time zone');
    expect(error.field).toBe("schedules[0].timezone");
  });

  it("answer a misspelled key with the closest known key of that object", () => {
    const cases: [unknown, string, string | undefined][] = [
      [{ schedule: [schedule] }, "schedule", "schedules"],
      [{ schedules: [{ ...schedule, crn: "x" }] }, "schedules[0].crn", "cron"],
      [{ schedules: [{ ...schedule, tiemzone: "UTC" }] }, "schedules[0].tiemzone", "timezone"],
      [{ cluster: { kotsadmNamespce: "kots" } }, "cluster.kotsadmNamespce", "kotsadmNamespace"],
      [{ export: { destination: "./d", bsl: { regoin: "eu-west-1" } } }, "export.bsl.regoin", "region"],
      [
        { alerts: { pagerDuty: { routingKey: "env:X", eventUrl: "https://events.pagerduty.com" } } },
        "alerts.pagerDuty.eventUrl",
        "eventsUrl",
      ],
      [
        {
          external: [
            { kind: "s3", name: "uploads", app: "my-app", period: "1d", bucket: "uploads", replcia: {} },
          ],
        },
        "external[0].replcia",
        "replica",
      ],
      // A key of another kind of external point is not offered.
      [
        {
          external: [{ kind: "rds", name: "db", app: "my-app", period: "1d", instance: "db1", buckett: "x" }],
        },
        "external[0].buckett",
        undefined,
      ],
      [{ cluster: { somethingElse: 1 } }, "cluster.somethingElse", undefined],
    ];
    for (const [input, field, suggestion] of cases) {
      const error = thrown(() => parseConfig(input));
      expect(error.field).toBe(field);
      expect(error.message).toBe(`${field}: unknown key`);
      if (suggestion) expect(error.fix, field).toMatch(new RegExp(`^did you mean ${suggestion}\\?`));
      else expect(error.fix, field).not.toContain("did you mean");
    }
  });

  it("through the CLI: exit 2 with the suggestion as the fix", async () => {
    const dir = tempDir("kb-polish-");
    const config = writeConfig(dir, { schedules: [{ ...schedule, timezon: "UTC" }] });
    const run = await cli(["--config", config, "verify"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^error: schedules\[0\]\.timezon: unknown key\n {2}fix: did you mean timezone\?/,
    );
  });
});

describe("sst: references outside Lambda", () => {
  it("say to use env:NAME or file:/path for a local run", async () => {
    const error = (await resolveSecret("sst:PolishNotLinked", {
      field: "alerts.pagerDuty.routingKey",
      env: {},
    }).catch((e: unknown) => e)) as EnvironmentError;
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.message).toContain("alerts.pagerDuty.routingKey");
    expect(error.fix).toMatch(/outside Lambda/);
    expect(error.fix).toMatch(/env:NAME or file:\/path/);
  });

  it("inside Lambda, say how to link it", async () => {
    const error = (await resolveSecret("sst:PolishNotLinked", {
      env: { AWS_LAMBDA_FUNCTION_NAME: "kots-backup-verify" },
    }).catch((e: unknown) => e)) as EnvironmentError;
    expect(error.fix).toContain("sst secret set PolishNotLinked");
    expect(error.fix).not.toMatch(/env:NAME/);
  });
});

describe("examples/local.yaml against `npm run sandbox`", () => {
  const dir = tempDir("kb-polish-local-");
  let sandbox: ChildProcess | undefined;
  let banner = "";
  afterAll(() => {
    sandbox?.kill("SIGKILL");
  });

  /** `kots-backup <args>` as a user runs it, from the directory the sandbox was started in. */
  async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? -1)));
    recordCaptured(`$ kots-backup ${args.join(" ")}\n${stdout}${stderr}`);
    return { code, stdout, stderr };
  }

  it("the sandbox keeps its kubeconfig at .sandbox/kubeconfig until it stops, and says how to use it", async () => {
    sandbox = spawn(process.execPath, [join(ROOT, "packages/sandbox/src/main.ts")], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => sandbox?.on("exit", (c) => resolve(c)));
    let stderr = "";
    sandbox.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    await new Promise<void>((resolve, reject) => {
      sandbox?.stdout?.on("data", (c: Buffer) => {
        banner += c.toString();
        if (banner.includes("Ctrl-C to stop.")) resolve();
      });
      exited.then(() => reject(new Error(`sandbox exited first:\n${banner}${stderr}`)));
    });
    const kubeconfig = join(dir, ".sandbox", "kubeconfig");
    expect(banner).toContain(`kubeconfig         ${kubeconfig}`);
    expect(banner).toContain(`npx kots-backup --kubeconfig ${kubeconfig} ls`);
    expect(banner).toContain("npx kots-backup --config examples/local.yaml doctor");
    const token = /token: (\S+)/.exec(readFileSync(kubeconfig, "utf8"))?.[1];
    registerSecrets("sandbox", token);

    // The hint, as printed (from another directory: the path is absolute).
    const ls = await run(["--kubeconfig", kubeconfig, "ls"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^NAME /);

    // The example config, as is (its kubeconfig and destination are relative to this directory).
    const config = join(ROOT, "examples/local.yaml");
    const doctor = await run(["--config", config, "doctor"]);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/ 0 failed, /);
    const backup = await run(["--config", config, "backup", "--no-wait"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const exported = await run(["--config", config, "export", "--latest"]);
    expect(exported.code, exported.stdout + exported.stderr).toBe(0);
    expect(filesUnder(join(dir, ".sandbox", "exports")).length).toBeGreaterThan(0);
    const verify = await run(["--config", config, "verify"]);
    expect(verify.code, verify.stdout + verify.stderr).toBeLessThanOrEqual(1);
    expect(verify.stdout).toContain("nightly");

    // Still there after all that; gone once the sandbox stops.
    expect(existsSync(kubeconfig)).toBe(true);
    sandbox.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(existsSync(kubeconfig)).toBe(false);
    sandbox = undefined;
  }, 180_000);
});

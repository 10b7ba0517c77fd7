// Cluster-supplied strings in human output: a Backup's name cannot hold a control character (DNS-1123),
// but its annotations, its failure reason and kotsadm's app slugs can. Through the CLI against the
// sandbox, none reaches the terminal raw: no escape sequence, no carriage return, no bidi override, and
// no row forged by a newline. JSON output keeps the exact strings (JSON escapes them itself).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSandbox } from "@kots-backup/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "./support/harness.ts";

/** A forged row, a screen clear, a window-title OSC, a C1 CSI and a right-to-left override. */
const FORGED = "\r\nforged-row  full  my-app  Completed\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eevil";
const HOSTILE_SLUG = `my-app${FORGED}`;
const BIN = new URL("../../packages/cli/src/bin.ts", import.meta.url).pathname;
/** What a terminal must never receive: every control character but the newline that ends a line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

function writeConfig(sandbox: Sandbox, extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "kb-term-"));
  const file = join(dir, "kots-backup.yaml");
  writeFileSync(
    file,
    [
      "cluster:",
      `  kubeconfig: ${sandbox.kubeconfigPath}`,
      "schedules:",
      "  - name: nightly",
      '    cron: "0 2 * * *"',
      "export:",
      `  destination: file://${join(dir, "data")}`,
      ...extra,
      "",
    ].join("\n"),
  );
  return file;
}

function expectTerminalSafe(text: string) {
  expect(text).not.toMatch(RAW);
  for (const line of text.split("\n")) expect(line).not.toMatch(/^\s*forged-row/);
}

describe("human output of cluster-supplied strings", () => {
  let sandbox: Sandbox;
  let config: string;
  beforeAll(async () => {
    // The CLI compares kotsadm's request times with its own clock: start the sandbox's at real time.
    sandbox = await startSandbox({
      startTime: new Date(),
      apps: [{ slug: "my-app" }, { slug: "other-app" }],
    });
    await sandbox.scenario.addBackup({ name: "hostile-app-backup", kind: "app", appSlug: "other-app" });
    // kotsadm now answers this slug for the app (the sandbox could not have deployed it under that name).
    const other = sandbox.kotsadm.apps.find((a) => a.slug === "other-app");
    if (other) other.slug = HOSTILE_SLUG;
    await sandbox.scenario.addBackup({
      name: "hostile-annotation",
      // Unparsable, so `ls` shows it as written rather than as a time.
      annotations: { "kots.io/snapshot-requested": `2026-11-23${FORGED}` },
    });
    await sandbox.scenario.addBackup({ name: "plain-backup" });
    config = writeConfig(sandbox);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it("ls: one row per backup, the hostile values escaped; --json keeps them exact", async () => {
    const json = await cli(["--config", config, "--json", "ls"]);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as { name: string; app?: string; requestedAt?: string }[];
    expect(rows.find((r) => r.name === "hostile-app-backup")?.app).toBe(HOSTILE_SLUG);
    expect(rows.find((r) => r.name === "hostile-annotation")?.requestedAt).toBe(`2026-11-23${FORGED}`);

    const human = await cli(["--config", config, "ls"]);
    expect(human.code).toBe(0);
    expectTerminalSafe(human.stdout + human.stderr);
    const lines = human.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1 + rows.length);
    const appRow = lines.find((l) => l.startsWith("hostile-app-backup"));
    expect(appRow).toContain(
      "my-app\\r\\nforged-row  full  my-app  Completed\\u001b[2J\\u001b]0;pwned\\u0007",
    );
    expect(appRow).toContain("\\u009b31m\\u202eevil");
    expect(lines.find((l) => l.startsWith("hostile-annotation"))).toContain("2026-11-23\\r\\nforged-row");
  });

  it("status and verify: the table stays one row per schedule", async () => {
    for (const command of ["status", "verify"]) {
      const run = await cli(["--config", config, command]);
      expect(run.code, `${command}: ${run.stderr}`).toBeLessThanOrEqual(1);
      expectTerminalSafe(run.stdout + run.stderr);
      // The table row (padded cells); the restore-point line below the table reads "nightly: …".
      expect(run.stdout.split("\n").filter((l) => /^nightly\s/.test(l))).toHaveLength(1);
    }
  });
});

describe("the daemon's human log of a failed backup", () => {
  let sandbox: Sandbox | undefined;
  afterAll(async () => {
    await sandbox?.stop();
  });

  it("shows the failure reason escaped, on one line", async () => {
    sandbox = await startSandbox({ clock: "real" });
    sandbox.velero.defaultScript = {
      outcome: "Failed",
      durationMs: 500,
      failureReason: `hooks failed${FORGED}`,
    };
    const config = writeConfig(sandbox, ["daemon:", "  verifyInterval: 1m"]);
    // Human log lines on stderr (no --json); every slot of a seconds-level schedule fires a backup.
    const child = spawn(
      process.execPath,
      [
        BIN,
        "--config",
        config,
        "daemon",
        "--internal-seconds-cron",
        "*/2 * * * * *",
        "--internal-tick",
        "1s",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    let stderr = "";
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          // The entry is complete once a newline follows it (a raw one inside would end it early).
          if (stderr.includes("Backup Failed") && stderr.endsWith("\n")) resolve();
        });
        exited.then(() => reject(new Error(`daemon exited first:\n${stderr}`)));
      });
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    expectTerminalSafe(stderr);
    const line = stderr.split("\n").find((l) => /Backup Failed/.test(l) && l.includes("hooks failed"));
    expect(line).toContain("hooks failed\\r\\nforged-row  full  my-app  Completed\\u001b[2J");
  }, 60_000);
});

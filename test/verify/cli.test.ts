// `kots-backup verify`, `status`, `silence` and `unsilence` through main([...]) against the sandbox.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams, openTestCluster, type TestCluster } from "../backup/support.ts";
import { type Receiver, startSlack } from "../channels/receivers.ts";

const CHECK_FIELDS = ["name", "state", "reasons"];

let env: TestCluster | undefined;
let slack: Receiver;
beforeAll(async () => {
  slack = await startSlack();
  process.env.KB_TEST_SLACK_URL = `${slack.url}/services/T000/B000/XXXX`;
});
afterAll(async () => {
  await slack.close();
  delete process.env.KB_TEST_SLACK_URL;
});
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

function writeConfig(kubeconfig: string, schedules: string): { config: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "kb-verify-"));
  const config = join(dir, "kots-backup.yaml");
  writeFileSync(
    config,
    [
      "cluster:",
      "  name: test",
      `  kubeconfig: ${kubeconfig}`,
      "export:",
      `  destination: file://${join(dir, "data")}`,
      "alerts:",
      "  slack:",
      "    webhookUrl: env:KB_TEST_SLACK_URL",
      "schedules:",
      schedules,
    ].join("\n"),
  );
  return { config, dir };
}

async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe("kots-backup verify", () => {
  it("prints one JSON document with a check per schedule and exits 0 when all are up", async () => {
    const now = new Date();
    env = await openTestCluster({ startTime: now });
    await env.sandbox.scenario.addBackup({
      startedAt: new Date(now.getTime() - 30 * 60_000),
      trigger: "schedule",
    });
    const { config } = writeConfig(
      env.sandbox.kubeconfigPath,
      "  - name: nightly\n    cron: '0 2 * * *'\n    export: false",
    );
    const { code, stdout } = await cli(["--config", config, "--json", "verify"]);
    const report = JSON.parse(stdout) as { checkedAt: string; checks: Record<string, unknown>[] };
    expect(report.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(report.checks).toHaveLength(1);
    for (const field of CHECK_FIELDS) expect(report.checks[0]).toHaveProperty(field);
    expect(report.checks[0]).toMatchObject({ name: "nightly", state: "up", reasons: [] });
    expect(report.checks[0]?.lastSuccessAt).toMatch(/Z$/);
    expect(code).toBe(0);
  });

  it("exits 1 with reason failed when the last backup failed, pages Slack once, and shows a table without --json", async () => {
    const now = new Date();
    env = await openTestCluster({ startTime: now });
    await env.sandbox.scenario.addBackup({
      startedAt: new Date(now.getTime() - 10 * 60_000),
      phase: "Failed",
    });
    const { config } = writeConfig(
      env.sandbox.kubeconfigPath,
      "  - name: hourly\n    cron: '0 * * * *'\n    export: false",
    );
    const before = slack.requests.length;
    const first = await cli(["--config", config, "--json", "verify"]);
    expect(first.code).toBe(1);
    expect(JSON.parse(first.stdout).checks[0]).toMatchObject({
      name: "hourly",
      state: "down",
      reasons: expect.arrayContaining(["failed"]),
    });
    const second = await cli(["--config", config, "verify"]);
    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(/^SCHEDULE\s+STATE\s+REASONS/);
    expect(second.stdout).toContain("hourly");
    expect(second.stdout).toContain("down");
    const pages = slack.requests.slice(before);
    expect(pages).toHaveLength(1);
    expect(pages[0]?.raw).toContain("DOWN");
  });

  it("reports an unreachable cluster on every check instead of exiting 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-verify-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
        "users: [{name: u, user: {token: abc}}]",
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
        "current-context: x",
      ].join("\n"),
    );
    const { config } = writeConfig(
      kubeconfig,
      "  - name: a\n    cron: '0 2 * * *'\n  - name: b\n    cron: '0 * * * *'",
    );
    const { code, stdout } = await cli(["--config", config, "--json", "verify"]);
    const report = JSON.parse(stdout) as { checks: { name: string; state: string; reasons: string[] }[] };
    expect(report.checks.map((c) => [c.name, c.state, c.reasons])).toEqual([
      ["a", "grace", ["cluster-unreachable"]],
      ["b", "grace", ["cluster-unreachable"]],
    ]);
    expect(code).toBe(0);
  });

  it("writes a self-contained status page with a timeline per schedule", async () => {
    const now = new Date();
    env = await openTestCluster({ startTime: now });
    await env.sandbox.scenario.addBackup({ startedAt: new Date(now.getTime() - 26 * 3_600_000) });
    await env.sandbox.scenario.addBackup({
      startedAt: new Date(now.getTime() - 2 * 3_600_000),
      phase: "PartiallyFailed",
    });
    const { config, dir } = writeConfig(
      env.sandbox.kubeconfigPath,
      "  - name: daily\n    cron: '0 2 * * *'\n    export: false",
    );
    const html = join(dir, "status.html");
    const { code, stdout, stderr } = await cli(["--config", config, "--json", "status", "--html", html]);
    expect([0, 1]).toContain(code);
    expect(JSON.parse(stdout).checks[0].name).toBe("daily");
    const page = readFileSync(html, "utf8");
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain("<svg");
    expect(page).toContain("daily");
    expect(page).not.toMatch(/(src|href)=["']?https?:/);
    expect(page).not.toContain("<script");
    expect(stderr).toContain("status page written");
  });
});

describe("kots-backup silence / unsilence", () => {
  it("silences a known schedule and refuses an unknown one with exit 2 naming the field", async () => {
    const { config } = writeConfig("/nonexistent", "  - name: nightly\n    cron: '0 2 * * *'");
    const ok = await cli([
      "--config",
      config,
      "--json",
      "silence",
      "nightly",
      "--for",
      "2h",
      "--reason",
      "upgrade",
    ]);
    expect(ok.code).toBe(0);
    const silence = JSON.parse(ok.stdout) as { schedule: string; until: string; reason: string };
    expect(silence).toMatchObject({ schedule: "nightly", reason: "upgrade" });
    expect(Date.parse(silence.until) - Date.now()).toBeGreaterThan(3_000_000);

    const unknown = await cli(["--config", config, "--json", "silence", "nope", "--for", "1h"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ code: "unknown-schedule", field: "schedule" });

    const bad = await cli(["--config", config, "--json", "silence", "nightly", "--for", "soon"]);
    expect(bad.code).toBe(2);

    const un = await cli(["--config", config, "--json", "unsilence", "nightly"]);
    expect(un.code).toBe(0);
    expect(JSON.parse(un.stdout)).toMatchObject({
      schedule: "nightly",
      silenced: false,
      previousUntil: silence.until,
    });
    const unknownUn = await cli(["--config", config, "--json", "unsilence", "nope"]);
    expect(unknownUn.code).toBe(2);
  });
});

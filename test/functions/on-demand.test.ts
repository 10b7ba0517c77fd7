// The `onDemand` handler through middy with the console events of docs/contract.md §4, against the sandbox, a
// local folder destination and a local EventBridge (localDeployment: no AWS needed). Each action's
// result is compared with what the CLI prints with --json for the same config.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { BACKUP_RESULT_FIELDS, captureStreams, driveUntilSettled } from "../backup/support.ts";
import { type LocalDeployment, lambdaContext, localDeployment, recordOutput } from "./support.ts";

describe("onDemand handler", () => {
  let sandbox: Sandbox;
  let dep: LocalDeployment;
  let configFile: string;
  let handler: typeof import("../../packages/functions/src/on-demand.ts").handler;

  beforeAll(async () => {
    sandbox = await startSandbox({ startTime: new Date() });
    dep = await localDeployment({ sandbox });
    configFile = join(mkdtempSync(join(tmpdir(), "kb-od-")), "kots-backup.json");
    writeFileSync(configFile, JSON.stringify(dep.config));
    ({ handler } = await import("../../packages/functions/src/on-demand.ts"));
  });
  afterAll(async () => {
    await dep?.close();
    await sandbox?.stop();
  });
  afterEach(() => vi.restoreAllMocks());

  const invoke = (event: unknown) => handler(event as never, lambdaContext("onDemand")) as Promise<unknown>;

  /** The CLI's --json document for the same config, through the sandbox's kubeconfig. */
  async function cli(...args: string[]): Promise<{ code: number; json: unknown }> {
    const io = captureStreams();
    const code = await driveUntilSettled(
      sandbox,
      main(["--config", configFile, "--kubeconfig", sandbox.kubeconfigPath, "--json", ...args], io.streams),
    );
    return { code, json: JSON.parse(io.stdout()) };
  }

  it("backup: full, returning once kotsadm accepted (the CLI's backup --no-wait JSON)", async () => {
    recordOutput();
    const result = (await invoke({ action: "backup", type: "full" })) as Record<string, unknown>;
    expect(result).toMatchObject({
      type: "full",
      trigger: "manual",
      status: "InProgress",
      deduplicated: false,
    });
    const { json } = await cli("backup", "--no-wait");
    // The same document: the contract's fields (startedAt only once Velero started it, so not compared).
    for (const field of BACKUP_RESULT_FIELDS) {
      expect(result).toHaveProperty(field);
      expect(json).toHaveProperty(field);
    }
    expect(Object.keys(json as object).filter((k) => k !== "startedAt")).toEqual(
      Object.keys(result).filter((k) => k !== "startedAt"),
    );
    expect(await dep.takeEvents(1)).toEqual([expect.objectContaining({ "detail-type": "Backup Started" })]);
  });

  it("backup: partial with wait follows it to its terminal phase", async () => {
    recordOutput();
    await sandbox.clock.advance(600_000);
    const result = (await driveUntilSettled(
      sandbox,
      invoke({ action: "backup", type: "partial", app: "my-app", wait: true }),
    )) as Record<string, unknown>;
    expect(result).toMatchObject({ type: "partial", app: "my-app", phase: "Completed", status: "Completed" });
    expect(result["completedAt"]).toEqual(expect.stringMatching(/Z$/));
    const types = (await dep.takeEvents(2)).map((e) => e["detail-type"]);
    expect(types).toEqual(expect.arrayContaining(["Backup Started", "Backup Completed"]));
  });

  it("ls: the same list as the CLI's ls", async () => {
    recordOutput();
    await sandbox.clock.advance(600_000);
    const result = await invoke({ action: "ls" });
    const { code, json } = await cli("ls");
    expect(code).toBe(0);
    expect(result).toEqual(json);
    expect((result as unknown[]).length).toBeGreaterThanOrEqual(3);
    expect(await invoke({ action: "ls", app: "my-app" })).toEqual((await cli("ls", "--app", "my-app")).json);
  });

  it("export: latest, then again (already exported), as the CLI's export JSON plus done", async () => {
    recordOutput();
    const first = (await driveUntilSettled(
      sandbox,
      invoke({ action: "export", backup: "latest" }),
    )) as Record<string, unknown>;
    expect(first).toMatchObject({ done: true, verified: true, scope: "manifests", alreadyExported: false });
    expect(await dep.objects()).toContain(first["manifestKey"]);
    const again = (await invoke({ action: "export", backup: first["backup"] })) as Record<string, unknown>;
    expect(again).toMatchObject({ done: true, alreadyExported: true, backup: first["backup"] });
    const { code, json } = await cli("export", String(first["backup"]));
    expect(code).toBe(0);
    const { done: _done, ...shown } = again;
    expect(shown).toEqual(json);
    const types = (await dep.takeEvents(1)).map((e) => e["detail-type"]);
    expect(types).toContain("Export Completed");
  });

  it("drill: drills the newest exports as the CLI's drill JSON, and records the run for the drill check", async () => {
    recordOutput();
    await driveUntilSettled(sandbox, invoke({ action: "export", backup: "latest" }));
    const result = (await invoke({ action: "drill" })) as { ok: boolean; results: Record<string, unknown>[] };
    expect(result.ok).toBe(true);
    expect(result.results).toEqual([expect.objectContaining({ ok: true, durationMs: expect.any(Number) })]);
    const runs = (await dep.objects()).filter((k) => k.startsWith("state/drills/"));
    expect(runs).toHaveLength(1);
    const { json } = await cli("drill");
    const withoutTimes = (r: { results: Record<string, unknown>[] }) =>
      r.results.map(({ durationMs: _d, checks: _c, ...rest }) => rest);
    expect(withoutTimes(result)).toEqual(withoutTimes(json as typeof result));
  });

  it("export: an unknown backup is an input error naming the backup field", async () => {
    recordOutput();
    await expect(invoke({ action: "export", backup: "nope-123" })).rejects.toMatchObject({
      code: "backup-not-found",
      field: "backup",
    });
  });

  it("verify and status: the CLI's verify/status JSON", async () => {
    recordOutput();
    const verify = (await invoke({ action: "verify" })) as { checkedAt: string; checks: unknown[] };
    expect(verify.checks).toEqual([expect.objectContaining({ name: "nightly" })]);
    const cliVerify = (await cli("verify")).json as { checks: unknown[] };
    expect(verify.checks).toEqual(cliVerify.checks);
    const status = (await invoke({ action: "status" })) as { checks: unknown[] };
    expect(status.checks).toEqual(((await cli("status")).json as { checks: unknown[] }).checks);
  });

  it("config-download: stores the app's archive under config/<app>/", async () => {
    recordOutput();
    const result = (await invoke({ action: "config-download", app: "my-app" })) as Record<string, unknown>;
    expect(result).toMatchObject({
      app: "my-app",
      key: expect.stringMatching(/^config\/my-app\/manual-.*\.tar\.gz$/),
    });
    expect(result["bytes"]).toBeGreaterThan(0);
    expect(await dep.objects()).toContain(result["key"]);
    const { json } = await cli("config-download", "--app", "my-app");
    expect(Object.keys(result).sort()).toEqual(Object.keys(json as object).sort());
  });

  it("rejects bad events naming the field, before any kotsadm, Kubernetes or store request", async () => {
    const output = recordOutput();
    const spy = sandbox.faults.add({ target: "api" }); // matches every API request, changes nothing
    const before = { kotsadm: sandbox.kotsadm.requests.length, objects: await dep.objects() };
    const cases: Array<[unknown, string]> = [
      [{}, "action"],
      [{ type: "full" }, "action"],
      [{ action: "restore" }, "action"],
      [{ action: "backup" }, "type"],
      [{ action: "backup", type: "incremental" }, "type"],
      [{ action: "backup", type: "partial" }, "app"],
      [{ action: "backup", type: "full", app: "my-app" }, "app"],
      [{ action: "backup", type: "full", wait: "yes" }, "wait"],
      [{ action: "ls", verbose: true }, "verbose"],
      [{ action: "export" }, "backup"],
      [{ action: "export", backup: "latest", force: true }, "force"],
      [{ action: "config-download" }, "app"],
      [{ action: "verify", schedule: "nightly" }, "schedule"],
    ];
    for (const [event, field] of cases) {
      const error = await invoke(event).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(event)).toMatchObject({ code: "invalid-event", field });
      expect((error as Error).message, JSON.stringify(event)).toContain(field);
    }
    expect(sandbox.kotsadm.requests.length).toBe(before.kotsadm);
    expect(sandbox.faults.hits.filter((h) => h.target === "api")).toEqual([]);
    expect(await dep.objects()).toEqual(before.objects);
    sandbox.faults.remove(spy);
    // Each rejection was logged once as a structured error naming the field.
    const errors = output.lines().filter((l) => l["level"] === "ERROR");
    expect(errors).toHaveLength(cases.length);
    expect(errors[0]).toMatchObject({ error: { code: "invalid-event", field: "action" } });
  });
});

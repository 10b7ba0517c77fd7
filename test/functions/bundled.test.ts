// The handlers as they ship: each bundled with infra/bundling.ts's options (as scripts/bundle-size.ts
// and SST build them: minified, client-node's generated classes dropped, its undici loaded on demand),
// then run against the sandbox like the source handlers in the other files of this folder: on moto (the
// AWS clients as shipped: S3, Secrets Manager, EventBridge) when the peer is up, else on localDeployment.
// What the bundle plugins change (which modules load at start) must not change what the functions do.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { build } from "esbuild";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { BUNDLE_OPTIONS } from "../../infra/bundling.ts";
import { driveUntilSettled } from "../backup/support.ts";
import { motoEndpoint } from "../support/peers.ts";
import {
  fakeDeployment,
  type HandlerDeployment,
  lambdaContext,
  localDeployment,
  recordOutput,
} from "./support.ts";

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

const ROOT = join(import.meta.dirname, "..", "..");

async function bundled(dir: string, name: string, entry: string): Promise<Handler> {
  const outfile = join(dir, name, "index.mjs");
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [join(ROOT, "packages", "functions", "src", entry)],
    outfile,
  });
  return ((await import(outfile)) as { handler: Handler }).handler;
}

const onMoto = motoEndpoint() !== "";

describe(`the bundled handlers (${onMoto ? "moto" : "local folder and local EventBridge"})`, () => {
  let sandbox: Sandbox;
  let dep: HandlerDeployment;
  let onDemand: Handler;
  let scheduled: Handler;
  let reconcile: Handler;

  beforeAll(async () => {
    sandbox = await startSandbox({ startTime: new Date() });
    dep = await (onMoto ? fakeDeployment : localDeployment)({ sandbox });
    const dir = mkdtempSync(join(tmpdir(), "kb-bundled-"));
    [onDemand, scheduled, reconcile] = await Promise.all([
      bundled(dir, "onDemand", "on-demand.ts"),
      bundled(dir, "scheduled", "scheduled.ts"),
      bundled(dir, "reconcile", "reconcile.ts"),
    ]);
  }, 120_000);
  afterAll(async () => {
    await dep?.close();
    await sandbox?.stop();
  });
  afterEach(() => vi.restoreAllMocks());

  it("onDemand: backup (watched to its end), ls, export, config-download; a bad event named", async () => {
    recordOutput();
    const context = () => lambdaContext("onDemand");
    const backup = await driveUntilSettled(
      sandbox,
      onDemand({ action: "backup", type: "partial", app: "my-app", wait: true }, context()),
    );
    expect(backup).toMatchObject({ app: "my-app", phase: "Completed", status: "Completed" });
    const listed = (await onDemand({ action: "ls" }, context())) as Array<{ name: string }>;
    expect(listed.map((b) => b.name)).toContain((backup as { name: string }).name);
    expect(
      await driveUntilSettled(
        sandbox,
        onDemand({ action: "export", backup: "latest", type: "partial", app: "my-app" }, context()),
      ),
    ).toMatchObject({ done: true, verified: true, backup: (backup as { name: string }).name });
    expect(await onDemand({ action: "config-download", app: "my-app" }, context())).toMatchObject({
      app: "my-app",
      key: expect.stringMatching(/^config\/my-app\//),
    });
    await expect(onDemand({ action: "backup" }, context())).rejects.toMatchObject({
      code: "invalid-event",
      field: "type",
    });
    expect((await dep.takeEvents()).map((e) => e["detail-type"])).toEqual(
      expect.arrayContaining(["Backup Started", "Backup Completed", "Export Completed"]),
    );
  });

  it("scheduled starts the slot's backup, and reconcile follows it", async () => {
    recordOutput();
    const slot = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
    expect(
      await scheduled(
        { schedule: "nightly", scheduledTime: slot, executionId: "exec-bundled" },
        lambdaContext("scheduled"),
      ),
    ).toMatchObject({ schedule: "nightly", deduplicated: false });
    const summary = await driveUntilSettled(sandbox, reconcile({}, lambdaContext("reconcile")));
    expect(summary).toMatchObject({
      errors: [],
      followed: [expect.objectContaining({ schedule: "nightly" })],
    });
  });
});

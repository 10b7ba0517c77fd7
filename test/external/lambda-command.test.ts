// A `command` external recovery point on Lambda (the onDemand handler over a local deployment): refused
// with an InputError naming the field, and never run. (infra/config.ts refuses it at deploy time too.)
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lambdaContext, localDeployment, recordOutput } from "../functions/support.ts";

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ startTime: new Date() });
});
afterAll(async () => {
  await sandbox?.stop();
});

describe("external recovery points on Lambda", () => {
  it("a command point is refused, naming the field, and never run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-lambda-command-"));
    const marker = join(dir, "ran");
    const script = join(dir, "newest");
    writeFileSync(script, `#!/bin/sh\ntouch ${marker}\necho 2026-06-10T09:30:00Z\n`);
    chmodSync(script, 0o755);
    recordOutput();
    const dep = await localDeployment({
      sandbox,
      external: [{ kind: "command", name: "rdb", app: "orders", period: "1d", command: [script] }],
    });
    const { handler } = await import("../../packages/functions/src/on-demand.ts");
    const invoked = handler({ action: "verify" } as never, lambdaContext("onDemand"));
    await expect(invoked.finally(() => dep.close())).rejects.toMatchObject({
      code: "invalid-config",
      field: "external[0].kind",
      message: expect.stringContaining("command cannot run on AWS Lambda"),
    });
    expect(existsSync(marker)).toBe(false);
  });
});

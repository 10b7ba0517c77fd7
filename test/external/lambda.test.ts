import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LocalDeployment, lambdaContext, localDeployment, recordOutput } from "../functions/support.ts";
import { type AwsBackupPeer, startAwsBackupPeer } from "../support/aws-backup-peer.ts";
import { AWS_TEST_CREDENTIALS } from "../support/peers.ts";

const ARN = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123";
const saved = { ...process.env };
let sandbox: Sandbox;
let peer: AwsBackupPeer;
beforeAll(async () => {
  sandbox = await startSandbox({ startTime: new Date() });
  peer = await startAwsBackupPeer();
  process.env.AWS_ACCESS_KEY_ID = AWS_TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = AWS_TEST_CREDENTIALS.secretAccessKey;
});
afterAll(async () => {
  await peer?.close();
  await sandbox?.stop();
  for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

afterEach(() => vi.restoreAllMocks());

async function onDemand(dep: LocalDeployment, event: unknown): Promise<unknown> {
  const { handler } = await import("../../packages/functions/src/on-demand.ts");
  try {
    return await handler(event as never, lambdaContext("onDemand"));
  } finally {
    await dep.close();
  }
}

describe("external recovery points on Lambda", () => {
  it("an aws-backup point is verified and shown per app", async () => {
    peer.points.set(ARN, [
      {
        RecoveryPointArn: "arn:aws:backup:us-east-1:123456789012:recovery-point:rp-1",
        CreationDate: Date.now() / 1000 - 3600,
        Status: "COMPLETED",
        BackupVaultName: "Default",
      },
    ]);
    const external = [
      {
        kind: "aws-backup",
        name: "files",
        app: "orders",
        period: "1d",
        resourceArn: ARN,
        endpoint: peer.endpoint,
      },
    ];
    recordOutput();
    const verify = (await onDemand(await localDeployment({ sandbox, external }), { action: "verify" })) as {
      checks: { name: string; state: string }[];
    };
    expect(verify.checks.find((c) => c.name === "external:files")).toMatchObject({ state: "up" });
    const status = (await onDemand(await localDeployment({ sandbox, external }), { action: "status" })) as {
      apps: { app: string; components: { label: string }[] }[];
    };
    expect(status.apps.map((a) => [a.app, a.components.map((c) => c.label)])).toEqual([
      ["orders", ["KOTS snapshot (nightly)", "export", "files (aws-backup)"]],
    ]);
  });
});

// The "done when", through the CLI: an RDS instance and an S3 bucket added to kots-backup.yaml
// (on moto 5.2.5, reached by `endpoint:`; credentials from the default chain's environment variables),
// `kots-backup verify` run as cron or a person would run it. When the RDS snapshots stop, PagerDuty (a
// local Events API v2 receiver) gets one trigger under kots-backup:<cluster>:external:<name>, nothing on
// the next runs, and one resolve when a snapshot is taken again. The sandbox cluster has no schedule.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, RDSClient } from "@aws-sdk/client-rds";
import {
  CreateBucketCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams, openTestCluster, type TestCluster } from "../backup/support.ts";
import { type PagerDutyReceiver, startPagerDuty } from "../channels/receivers.ts";
import {
  AWS_TEST_CREDENTIALS,
  AWS_TEST_REGION,
  describeWithMoto,
  motoClientConfig,
  motoEndpoint,
  motoS3,
  uniqueBucketName,
  uniqueName,
} from "../support/peers.ts";

let env: TestCluster | undefined;
let pd: PagerDutyReceiver;
const saved = { ...process.env };
beforeAll(async () => {
  pd = await startPagerDuty();
  process.env.KB_TEST_PD_KEY = "R0UTINGKEY0123456789abcdef012345";
  process.env.AWS_ACCESS_KEY_ID = AWS_TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = AWS_TEST_CREDENTIALS.secretAccessKey;
});
afterAll(async () => {
  await pd.close();
  await env?.stop();
  for (const key of ["KB_TEST_PD_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

async function verify(config: string) {
  const io = captureStreams();
  const code = await main(["--config", config, "--json", "verify"], io.streams);
  const report = JSON.parse(io.stdout()) as { checks: { name: string; state: string; reasons: string[] }[] };
  return { code, checks: Object.fromEntries(report.checks.map((c) => [c.name, c])) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWithMoto("kots-backup verify with an RDS instance and an S3 bucket", () => {
  it("pages once when the RDS snapshots stop, and resolves once when they resume", async () => {
    const instance = uniqueName("orders").toLowerCase();
    const bucket = uniqueBucketName("kb-uploads");
    const replica = uniqueBucketName("kb-uploads-dr");
    for (const name of [bucket, replica]) {
      await motoS3().send(new CreateBucketCommand({ Bucket: name }));
      await motoS3().send(
        new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Enabled" } }),
      );
    }
    await motoS3().send(
      new PutBucketReplicationCommand({
        Bucket: bucket,
        ReplicationConfiguration: {
          Role: "arn:aws:iam::123456789012:role/replication",
          Rules: [
            {
              ID: "all",
              Status: "Enabled",
              Priority: 1,
              Filter: { Prefix: "" },
              DeleteMarkerReplication: { Status: "Disabled" },
              Destination: { Bucket: `arn:aws:s3:::${replica}` },
            },
          ],
        },
      }),
    );
    env = await openTestCluster({ startTime: new Date() });
    const dir = mkdtempSync(join(tmpdir(), "kb-external-cli-"));
    const config = join(dir, "kots-backup.yaml");
    // A period of seconds stands for "daily": the snapshots "stop" by not being taken for 7 s.
    writeFileSync(
      config,
      [
        "cluster:",
        "  name: prod",
        `  kubeconfig: ${env.sandbox.kubeconfigPath}`,
        "export:",
        `  destination: file://${join(dir, "data")}`,
        "alerts:",
        "  pagerDuty:",
        "    routingKey: env:KB_TEST_PD_KEY",
        `    eventsUrl: ${pd.eventsUrl}`,
        "external:",
        "  - kind: rds",
        "    name: orders-db",
        "    app: orders",
        `    instance: ${instance}`,
        "    period: 5s",
        "    grace: 1s",
        `    region: ${AWS_TEST_REGION}`,
        `    endpoint: ${motoEndpoint()}`,
        "  - kind: s3",
        "    name: uploads",
        "    app: orders",
        `    bucket: ${bucket}`,
        "    period: 1d",
        "    forcePathStyle: true",
        `    region: ${AWS_TEST_REGION}`,
        `    endpoint: ${motoEndpoint()}`,
      ].join("\n"),
    );

    const rds = new RDSClient(motoClientConfig());
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: instance,
        Engine: "postgres",
        DBInstanceClass: "db.t3.micro",
        AllocatedStorage: 20,
        MasterUsername: "app",
        MasterUserPassword: "password-123",
        StorageEncrypted: true,
        BackupRetentionPeriod: 7,
      }),
    );
    const first = await verify(config);
    expect(first.checks["external:orders-db"]).toMatchObject({ state: "up", reasons: [] });
    expect(first.checks["external:uploads"]).toMatchObject({ state: "up", reasons: [] });
    expect(first.code).toBe(0);

    await sleep(7_000);
    const down = await verify(config);
    expect(down.checks["external:orders-db"]).toMatchObject({ state: "down", reasons: ["missed"] });
    expect(down.checks["external:uploads"]?.state).toBe("up");
    expect(down.code).toBe(1);
    await verify(config);
    await verify(config);
    const key = "kots-backup:prod:external:orders-db";
    expect([...pd.alerts.keys()]).toEqual([key]);
    expect(pd.alerts.get(key)).toMatchObject({ status: "triggered", actions: ["trigger"] });
    expect(pd.alerts.get(key)?.summary).toContain(
      "is DOWN: the newest recovery point is older than its period and grace",
    );

    await rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: instance,
        DBSnapshotIdentifier: `${instance}-now`,
      }),
    );
    const up = await verify(config);
    expect(up.checks["external:orders-db"]).toMatchObject({ state: "up" });
    await verify(config);
    expect(pd.alerts.get(key)).toMatchObject({ status: "resolved", actions: ["trigger", "resolve"] });
  });
});

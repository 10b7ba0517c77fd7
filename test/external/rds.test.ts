// RDS snapshots as a recovery point, against moto 5.2.5 (it serves DescribeDBSnapshots and
// DescribeDBClusterSnapshots with SnapshotCreateTime, Status and Encrypted/StorageEncrypted, and takes an
// automated snapshot when an instance or cluster is created; it cannot make a snapshot `failed`, so that
// status is covered by observation.test.ts). moto stamps snapshots with its own clock: staleness is shown
// by evaluating at a later `now`, as a verify run weeks later would.
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { externalObserver } from "@kots-backup/adapters/external/index";
import { observeRds, rdsClient } from "@kots-backup/adapters/external/rds";
import { parseConfig } from "@kots-backup/core/config";
import { evaluateExternal } from "@kots-backup/core/external";
import { expect, it } from "vitest";
import { describeWithMoto, motoClientConfig, uniqueName } from "../support/peers.ts";

const DAY = 86_400_000;

function point(extra: Record<string, unknown>) {
  const [p] = parseConfig({
    external: [{ kind: "rds", name: "orders-db", app: "orders", period: "1d", grace: "1h", ...extra }],
  }).external;
  if (p?.kind !== "rds") throw new Error("not rds");
  return p;
}

describeWithMoto("external rds (moto)", () => {
  const rds = () => new RDSClient(motoClientConfig());

  it("the newest available snapshot, automated or manual, encrypted; down with missed once it is a day and an hour old", async () => {
    const id = uniqueName("orders").toLowerCase();
    await rds().send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        Engine: "postgres",
        DBInstanceClass: "db.t3.micro",
        AllocatedStorage: 20,
        MasterUsername: "app",
        MasterUserPassword: "password-123",
        StorageEncrypted: true,
        BackupRetentionPeriod: 7,
      }),
    );
    const observe = externalObserver([point({ instance: id })], {
      allowCommand: false,
      aws: motoClientConfig(),
    });
    const now = new Date();
    const automated = await observe(point({ instance: id }), now);
    expect(automated).toMatchObject({ reachable: true, encrypted: true });
    expect(automated.newestId).toMatch(/^rds:/);
    await new Promise((r) => setTimeout(r, 1100));
    await rds().send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: `${id}-manual` }),
    );
    const manual = await observe(point({ instance: id }), new Date());
    expect(manual.newestId).toBe(`${id}-manual`);
    expect(Date.parse(manual.newestAt ?? "")).toBeGreaterThan(Date.parse(automated.newestAt ?? ""));

    const p = point({ instance: id });
    expect(evaluateExternal(p, manual, new Date()).state).toBe("up");
    const later = new Date(Date.parse(manual.newestAt ?? "") + DAY + 3_600_000);
    expect(evaluateExternal(p, manual, later, { firstSeenAt: manual.newestAt })).toMatchObject({
      state: "down",
      reasons: ["missed"],
    });
  });

  it("an Aurora cluster's snapshots, and an unencrypted one is down with unencrypted", async () => {
    const id = uniqueName("aurora").toLowerCase();
    await rds().send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: id,
        Engine: "aurora-postgresql",
        MasterUsername: "app",
        MasterUserPassword: "password-123",
        StorageEncrypted: false,
      }),
    );
    const p = point({ cluster: id });
    const observation = await externalObserver([p], { allowCommand: false, aws: motoClientConfig() })(
      p,
      new Date(),
    );
    expect(observation).toMatchObject({ reachable: true, encrypted: false });
    expect(observation.detail).toContain("not encrypted");
    expect(evaluateExternal(p, observation, new Date())).toMatchObject({
      state: "down",
      reasons: ["unencrypted"],
    });
    const relaxed = point({ cluster: id, requireEncryption: false });
    expect(evaluateExternal(relaxed, observation, new Date()).state).toBe("up");
  });

  it("no snapshot at all (an unknown instance): new, then missed + never-succeeded", async () => {
    const id = uniqueName("gone").toLowerCase();
    const p = point({ instance: id });
    const observation = await externalObserver([p], { allowCommand: false, aws: motoClientConfig() })(
      p,
      new Date(),
    );
    expect(observation).toEqual({ reachable: true, detail: "no snapshot found" });
    const now = new Date();
    expect(evaluateExternal(p, observation, now).state).toBe("new");
    expect(
      evaluateExternal(p, observation, new Date(now.getTime() + DAY + 3_600_000), {
        firstSeenAt: now.toISOString(),
      }).reasons,
    ).toEqual(["missed", "never-succeeded"]);
  });

  it("an endpoint that does not answer is unreachable, naming the call, without the SDK's message", async () => {
    const p = point({ instance: "orders", endpoint: "http://127.0.0.1:9" });
    const client = rdsClient(p, { ...motoClientConfig(), endpoint: "http://127.0.0.1:9", maxAttempts: 1 });
    const observation = await observeRds(p, new Date(), client);
    expect(observation.reachable).toBe(false);
    expect(observation.detail).toMatch(/^rds:DescribeDBSnapshots failed \(ECONNREFUSED/);
  });
});

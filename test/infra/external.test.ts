// External recovery points on AWS: the read actions each kind needs, scoped to its resources, for the
// functions that verify (reconcile, onDemand) and no other; `command` refused at deploy time.
import { describe, expect, it } from "vitest";
import { DeployConfigError, deploySettings } from "../../infra/config.ts";
import { FUNCTION_NAMES, functionPermissions, type PermissionTargets } from "../../infra/permissions.ts";

const targets: PermissionTargets = {
  partition: "aws",
  region: "eu-west-1",
  accountId: "123456789012",
  bucketArn: "arn:aws:s3:::acme-kots-exports",
  prefix: "prod",
  kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
  busArn: "arn:aws:events:eu-west-1:123456789012:event-bus/kots-backup-prod-Events",
  deadLetterQueueArn: "arn:aws:sqs:eu-west-1:123456789012:kots-backup-prod-DeadLetters",
};
const base = { cluster: { name: "prod", credentials: "sst:ClusterCredentials" } };
const common = { app: "orders", period: "1d" };

function grants(external: unknown[]) {
  const { config } = deploySettings({ ...base, external });
  return Object.fromEntries(
    FUNCTION_NAMES.map((fn) => [
      fn,
      functionPermissions(fn, config, targets).filter(
        (s) =>
          /^(rds|backup):|Versioning|Replication/.test(s.actions.join()) ||
          s.resources.some((r) => r.includes("uploads")),
      ),
    ]),
  );
}

describe("IAM for external recovery points", () => {
  it("rds: DescribeDBSnapshots on the instance and snapshots (its own region when set), to the verifying functions only", () => {
    const g = grants([
      { kind: "rds", name: "a", ...common, instance: "orders" },
      { kind: "rds", name: "b", ...common, cluster: "aurora-1", region: "us-east-2" },
    ]);
    const expected = [
      {
        actions: ["rds:DescribeDBSnapshots"],
        resources: [
          "arn:aws:rds:eu-west-1:123456789012:db:orders",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:*",
        ],
      },
      {
        actions: ["rds:DescribeDBClusterSnapshots"],
        resources: [
          "arn:aws:rds:us-east-2:123456789012:cluster:aurora-1",
          "arn:aws:rds:us-east-2:123456789012:cluster-snapshot:*",
        ],
      },
    ];
    expect(g.reconcile).toEqual(expected);
    expect(g.onDemand).toEqual(expected);
    expect(g.scheduled).toEqual([]);
    expect(g.notify).toEqual([]);
  });

  it("aws-backup: ListRecoveryPointsByResource once, whatever the number of points", () => {
    const arn = (n: number) => `arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-${n}`;
    const g = grants([
      { kind: "aws-backup", name: "a", ...common, resourceArn: arn(1) },
      { kind: "aws-backup", name: "b", ...common, resourceArn: arn(2) },
    ]);
    expect(g.reconcile).toEqual([{ actions: ["backup:ListRecoveryPointsByResource"], resources: ["*"] }]);
  });

  it("s3: versioning and replication reads on the bucket, listing on the replica; nothing that writes", () => {
    const g = grants([
      { kind: "s3", name: "a", ...common, bucket: "acme-uploads", replica: { bucket: "acme-uploads-dr" } },
    ]);
    expect(g.reconcile).toEqual([
      {
        actions: ["s3:GetBucketVersioning", "s3:GetReplicationConfiguration"],
        resources: ["arn:aws:s3:::acme-uploads"],
      },
      { actions: ["s3:ListBucket"], resources: ["arn:aws:s3:::acme-uploads-dr"] },
    ]);
  });

  it("a command point fails the deploy, naming the field", () => {
    let error: unknown;
    try {
      deploySettings({
        ...base,
        external: [{ kind: "command", name: "rdb", ...common, command: ["/bin/newest"] }],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeployConfigError);
    expect((error as DeployConfigError).field).toBe("external[0].kind");
    expect((error as Error).message).toContain("command cannot run on AWS Lambda");
  });
});

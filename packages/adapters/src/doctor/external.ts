// `doctor`'s checks of the external recovery points: each source is read once as verify reads it (so
// its read permission is proven), and for RDS the instance or cluster must exist with automated backups
// on. Nothing is changed anywhere; a `command` point's executable is run once, as verify runs it.
import { DescribeDBClustersCommand, DescribeDBInstancesCommand } from "@aws-sdk/client-rds";
import type { ExternalPointConfig } from "@kots-backup/core/config";
import { externalObserver } from "../external/index.ts";
import { type AwsClientSettings, awsFailure } from "../external/observation.ts";
import { rdsClient } from "../external/rds.ts";
import type { DoctorCheck } from "./types.ts";

const FIX: Record<ExternalPointConfig["kind"], string> = {
  rds: "check the identifier and region, and that the role may call rds:DescribeDBInstances/DescribeDBClusters and rds:DescribeDBSnapshots/DescribeDBClusterSnapshots (docs/runbook.md, external recovery points)",
  "aws-backup": "check the resource ARN and that the role may call backup:ListRecoveryPointsByResource",
  s3: "turn versioning on and enable a replication rule (or set replica:), and check that the role may call s3:GetBucketVersioning, s3:GetReplicationConfiguration and s3:ListBucket on the replica",
  command:
    "run the command by hand as kots-backup's user: it must exit 0 within its timeout and print one ISO time",
};

/** Automated backups of an RDS instance or cluster: retention in days, or why it could not be read. */
async function rdsRetention(
  point: Extract<ExternalPointConfig, { kind: "rds" }>,
  aws: AwsClientSettings | undefined,
): Promise<{ days: number } | { problem: string }> {
  const client = rdsClient(point, aws);
  try {
    if (point.cluster !== undefined) {
      const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: point.cluster }));
      return { days: out.DBClusters?.[0]?.BackupRetentionPeriod ?? 0 };
    }
    const out = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: point.instance }));
    return { days: out.DBInstances?.[0]?.BackupRetentionPeriod ?? 0 };
  } catch (error) {
    const call = point.cluster !== undefined ? "rds:DescribeDBClusters" : "rds:DescribeDBInstances";
    return { problem: awsFailure(call, error).detail };
  } finally {
    client.destroy();
  }
}

export async function externalChecks(
  points: readonly ExternalPointConfig[],
  options: { aws?: AwsClientSettings; now?: Date } = {},
): Promise<DoctorCheck[]> {
  const observe = externalObserver(points, {
    allowCommand: true,
    ...(options.aws ? { aws: options.aws } : {}),
  });
  const checks: DoctorCheck[] = [];
  for (const point of points) {
    const name = `external ${point.name} (${point.kind})`;
    const fail = (detail: string): DoctorCheck => ({ name, ok: false, detail, fix: FIX[point.kind] });
    let prefix = "";
    if (point.kind === "rds") {
      const retention = await rdsRetention(point, options.aws);
      const what = point.cluster !== undefined ? `cluster ${point.cluster}` : `instance ${point.instance}`;
      if ("problem" in retention) {
        checks.push(fail(`${what}: ${retention.problem}`));
        continue;
      }
      if (retention.days === 0) {
        checks.push({
          name,
          ok: false,
          detail: `${what} has automated backups off (BackupRetentionPeriod 0)`,
          fix: "set a backup retention period of 1 day or more on it",
        });
        continue;
      }
      prefix = `${what}: automated backups kept ${retention.days}d; `;
    }
    const observation = await observe(point, options.now ?? new Date());
    if (!observation.reachable) checks.push(fail(observation.detail));
    else if (observation.unprotected) checks.push(fail(`not protected: ${observation.detail}`));
    else checks.push({ name, ok: true, detail: `${prefix}${observation.detail}` });
  }
  return checks;
}

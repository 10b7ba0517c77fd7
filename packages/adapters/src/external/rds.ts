// An RDS instance's or Aurora cluster's snapshots as a recovery point: the newest `available` one,
// automated or manual (DescribeDBSnapshots / DescribeDBClusterSnapshots, both kinds listed by default),
// whether it is encrypted, and whether a newer one `failed`. IAM: rds:DescribeDBSnapshots or
// rds:DescribeDBClusterSnapshots (infra/permissions.ts).
import {
  type DBClusterSnapshot,
  type DBSnapshot,
  paginateDescribeDBClusterSnapshots,
  paginateDescribeDBSnapshots,
  RDSClient,
} from "@aws-sdk/client-rds";
import type { ExternalPointConfig } from "@kots-backup/core/config";
import type { ExternalObservation } from "@kots-backup/core/external";
import {
  type AwsClientSettings,
  awsFailure,
  type Candidate,
  clientSettings,
  observe,
  timeOf,
} from "./observation.ts";

type RdsPoint = Extract<ExternalPointConfig, { kind: "rds" }>;

/** Pages read at most (100 snapshots each): automated ones are kept 35 days at most. */
const MAX_PAGES = 20;

function candidate(
  s: Pick<DBSnapshot, "SnapshotCreateTime" | "Status"> & {
    id?: string | undefined;
    encrypted?: boolean | undefined;
  },
): Candidate {
  return {
    at: timeOf(s.SnapshotCreateTime),
    id: s.id ?? "(unnamed)",
    good: s.Status === "available",
    failed: s.Status === "failed",
    ...(typeof s.encrypted === "boolean" ? { encrypted: s.encrypted } : {}),
  };
}

export function rdsClient(point: RdsPoint, defaults?: AwsClientSettings): RDSClient {
  return new RDSClient(clientSettings(point, defaults));
}

/** Lists the point's snapshots and observes the newest; a failed call is an unreachable source. */
export async function observeRds(
  point: RdsPoint,
  now: Date,
  client: RDSClient,
): Promise<ExternalObservation> {
  const candidates: Candidate[] = [];
  const pages = { client, pageSize: 100 };
  try {
    let n = 0;
    if (point.cluster !== undefined) {
      for await (const page of paginateDescribeDBClusterSnapshots(pages, {
        DBClusterIdentifier: point.cluster,
      })) {
        for (const s of page.DBClusterSnapshots ?? ([] as DBClusterSnapshot[]))
          candidates.push(
            candidate({ ...s, id: s.DBClusterSnapshotIdentifier, encrypted: s.StorageEncrypted }),
          );
        if (++n >= MAX_PAGES) break;
      }
    } else {
      for await (const page of paginateDescribeDBSnapshots(pages, { DBInstanceIdentifier: point.instance })) {
        for (const s of page.DBSnapshots ?? [])
          candidates.push(candidate({ ...s, id: s.DBSnapshotIdentifier, encrypted: s.Encrypted }));
        if (++n >= MAX_PAGES) break;
      }
    }
  } catch (error) {
    return awsFailure(
      point.cluster !== undefined ? "rds:DescribeDBClusterSnapshots" : "rds:DescribeDBSnapshots",
      error,
    );
  }
  const observation = observe(candidates, now, "snapshot");
  if (observation.encrypted === false) observation.detail += " (not encrypted)";
  return observation;
}

// A resource AWS Backup protects as a recovery point: the newest COMPLETED (or AVAILABLE) recovery
// point of the resource (ListRecoveryPointsByResource), in the configured vault if one is set, and
// whether a newer one ended PARTIAL or STOPPED. IAM: backup:ListRecoveryPointsByResource.
import {
  BackupClient,
  paginateListRecoveryPointsByResource,
  type RecoveryPointByResource,
} from "@aws-sdk/client-backup";
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

type AwsBackupPoint = Extract<ExternalPointConfig, { kind: "aws-backup" }>;

const MAX_PAGES = 20;
const GOOD = new Set(["COMPLETED", "AVAILABLE"]);
const FAILED = new Set(["PARTIAL", "STOPPED"]);

/** The region of an ARN (`arn:aws:rds:eu-west-1:…`), where its recovery points are listed by default. */
export function regionOfArn(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}

export function awsBackupClient(point: AwsBackupPoint, defaults?: AwsClientSettings): BackupClient {
  const region = point.region ?? regionOfArn(point.resourceArn);
  return new BackupClient(clientSettings({ ...point, region }, defaults));
}

function candidate(p: RecoveryPointByResource): Candidate {
  return {
    at: timeOf(p.CreationDate),
    id: p.RecoveryPointArn ?? "(unnamed)",
    good: GOOD.has(p.Status ?? ""),
    failed: FAILED.has(p.Status ?? ""),
  };
}

export async function observeAwsBackup(
  point: AwsBackupPoint,
  now: Date,
  client: BackupClient,
): Promise<ExternalObservation> {
  const candidates: Candidate[] = [];
  try {
    let n = 0;
    for await (const page of paginateListRecoveryPointsByResource(
      { client, pageSize: 100 },
      { ResourceArn: point.resourceArn },
    )) {
      for (const p of page.RecoveryPoints ?? [])
        if (point.vault === undefined || p.BackupVaultName === point.vault) candidates.push(candidate(p));
      if (++n >= MAX_PAGES) break;
    }
  } catch (error) {
    return awsFailure("backup:ListRecoveryPointsByResource", error);
  }
  return observe(candidates, now, point.vault ? `recovery point in vault ${point.vault}` : "recovery point");
}

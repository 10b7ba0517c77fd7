// Least privilege, AWS side: each function's IAM actions (infra/permissions.ts, data) against what the
// code can ask AWS for. SST functions cannot be built under Pulumi mocks, so this is checked as data:
// the AWS SDK commands the Lambda code uses are read from its sources (every `new XCommand(` and
// every `paginateX(`) and mapped to the IAM actions AWS checks for
// them; each function's need is an explicit table restricted to those actions. Statements that serve
// the infrastructure rather than the code (KMS through S3, the dead-letter queue, eks:DescribeCluster)
// are left out of the comparison.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "@kots-backup/core/config";
import { describe, expect, it } from "vitest";
import { FUNCTION_NAMES, type FunctionName, functionPermissions } from "../../infra/permissions.ts";
import { filesUnder } from "./support/harness.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** The IAM action(s) AWS authorizes each command with (Service Authorization Reference). */
const ACTION_OF: Record<string, string[]> = {
  GetObject: ["s3:GetObject"],
  HeadObject: ["s3:GetObject"],
  PutObject: ["s3:PutObject"],
  CreateMultipartUpload: ["s3:PutObject"],
  UploadPart: ["s3:PutObject"],
  CompleteMultipartUpload: ["s3:PutObject"],
  AbortMultipartUpload: ["s3:AbortMultipartUpload"],
  CopyObject: ["s3:GetObject", "s3:PutObject"],
  UploadPartCopy: ["s3:GetObject", "s3:PutObject"],
  DeleteObject: ["s3:DeleteObject"],
  ListObjectsV2: ["s3:ListBucket"],
  HeadBucket: ["s3:ListBucket"],
  ListMultipartUploads: ["s3:ListBucketMultipartUploads"],
  PutObjectTagging: ["s3:PutObjectTagging"],
  GetBucketEncryption: ["s3:GetEncryptionConfiguration"],
  GetBucketLifecycleConfiguration: ["s3:GetLifecycleConfiguration"],
  GetBucketVersioning: ["s3:GetBucketVersioning"],
  GetObjectLockConfiguration: ["s3:GetBucketObjectLockConfiguration"],
  GetPublicAccessBlock: ["s3:GetBucketPublicAccessBlock"],
  PutEvents: ["events:PutEvents"],
  Publish: ["sns:Publish"],
  GetSecretValue: ["secretsmanager:GetSecretValue"],
  // External recovery points (verify).
  DescribeDBSnapshots: ["rds:DescribeDBSnapshots"],
  DescribeDBClusterSnapshots: ["rds:DescribeDBClusterSnapshots"],
  ListRecoveryPointsByResource: ["backup:ListRecoveryPointsByResource"],
  GetBucketReplication: ["s3:GetReplicationConfiguration"],
};

/** Source folders bundled into the Lambdas (doctor is a CLI command: not bundled, read separately). */
const LAMBDA_SOURCES = ["packages/functions/src", "packages/adapters/src", "packages/core/src"];

function commandsIn(files: string[]): Set<string> {
  const found = new Set<string>();
  for (const file of files.filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/new ([A-Z][A-Za-z0-9]+)Command\(/g)) found.add(m[1] as string);
    for (const m of text.matchAll(/paginate([A-Z][A-Za-z0-9]+)\(/g)) found.add(m[1] as string);
  }
  return found;
}

const lambdaFiles = LAMBDA_SOURCES.flatMap((d) => filesUnder(join(ROOT, d))).filter(
  (f) => !f.includes("/doctor/"),
);
const doctorFiles = filesUnder(join(ROOT, "packages/adapters/src/doctor"));
const USED = commandsIn(lambdaFiles);
const usedActions = new Set([...USED].flatMap((c) => ACTION_OF[c] ?? [`unmapped:${c}`]));

/** What each function's code path needs, with the commands that need it. */
const NEEDED: Record<FunctionName, Record<string, string>> = {
  scheduled: {
    "s3:GetObject": "slot claim read (GetObject/HeadObject under state/)",
    "s3:PutObject": "slot claim, conditional PutObject (If-None-Match) under state/",
    "s3:ListBucket": "claims listed (ListObjectsV2); a missing key is a 404, not a 403",
    "events:PutEvents": "Backup Started/Skipped/Failed on the stack's bus",
    "secretsmanager:GetSecretValue": "cluster.credentials as a Secrets Manager ARN",
  },
  reconcile: {
    "s3:GetObject": "manifests, state, mirror index; HeadObject checksums; CopyObject source",
    "s3:PutObject":
      "export objects (PutObject, multipart Upload, CopyObject/UploadPartCopy), manifests, state",
    "s3:AbortMultipartUpload": "a failed export leaves no open multipart upload",
    "s3:ListBucket": "mirror listing (ListObjectsV2), 404 on missing keys",
    "s3:ListBucketMultipartUploads": "open uploads of a failed export found and aborted",
    "s3:PutObjectTagging": "retention tags kots-backup/expirable=true",
    "events:PutEvents": "Export/Backup/Check events on the stack's bus",
    "secretsmanager:GetSecretValue": "cluster.credentials as a Secrets Manager ARN",
    "rds:DescribeDBSnapshots": "external rds instance: its snapshots (paginateDescribeDBSnapshots)",
    "rds:DescribeDBClusterSnapshots":
      "external Aurora cluster: its snapshots (paginateDescribeDBClusterSnapshots)",
    "backup:ListRecoveryPointsByResource": "external aws-backup: the resource's recovery points",
    "s3:GetBucketVersioning": "external s3: versioning on (GetBucketVersioning)",
    "s3:GetReplicationConfiguration": "external s3: an enabled replication rule (GetBucketReplication)",
  },
  onDemand: {},
  notify: {
    "events:PutEvents": "alerts.eventBridge channel",
    "sns:Publish": "alerts.sns channel",
    "secretsmanager:GetSecretValue": "alert secrets as Secrets Manager ARNs",
  },
};
NEEDED.onDemand = {
  ...NEEDED.reconcile,
  "s3:DeleteObject": "the drill keeps only the newest runs under state/drills/ (DeleteObject)",
};

/**
 * Findings, each an expected mismatch kept visible (remove the entry when the infra or code changes):
 * actions granted that no command of the Lambda code uses.
 */
const GRANTED_UNUSED: Partial<Record<FunctionName, string[]>> = {};
/**
 * Commands the Lambda code sends that no function is granted, and why that is accepted. (s3:DeleteObject
 * is granted on state/drills/ only: the export engine's best-effort cleanup of an object that failed
 * verification stays denied on AWS, and the object is overwritten by the next attempt.)
 */
const USED_UNGRANTED: Record<string, string> = {};

const INFRA_ONLY = /^(kms:|sqs:SendMessage$|eks:DescribeCluster$)/;

const config = parseConfig({
  cluster: { name: "prod", credentials: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kots/cluster" },
  export: { destination: "s3://acme-kots-exports/prod" },
  alerts: {
    eventBridge: { busName: "ops" },
    sns: { topicArn: "arn:aws:sns:eu-west-1:123456789012:oncall" },
    pagerDuty: { routingKey: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kots/pd" },
  },
  external: [
    { kind: "rds", name: "orders-db", app: "orders", period: "1d", instance: "orders" },
    { kind: "rds", name: "orders-aurora", app: "orders", period: "1d", cluster: "orders-aurora" },
    {
      kind: "aws-backup",
      name: "files",
      app: "orders",
      period: "1d",
      resourceArn: "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1",
    },
    {
      kind: "s3",
      name: "uploads",
      app: "orders",
      period: "1d",
      bucket: "acme-uploads",
      replica: { bucket: "acme-uploads-dr" },
    },
  ],
});
const targets = {
  partition: "aws",
  region: "eu-west-1",
  accountId: "123456789012",
  bucketArn: "arn:aws:s3:::acme-kots-exports",
  prefix: "prod",
  kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
  busArn: "arn:aws:events:eu-west-1:123456789012:event-bus/kots-backup-prod-Events",
  deadLetterQueueArn: "arn:aws:sqs:eu-west-1:123456789012:kots-backup-prod-DeadLetters",
};
const granted = (fn: FunctionName) =>
  new Set(
    functionPermissions(fn, config, targets)
      .flatMap((s) => s.actions)
      .filter((a) => !INFRA_ONLY.test(a)),
  );

describe("IAM per function vs. the AWS calls its code makes", () => {
  it("every command of the Lambda code maps to a known IAM action", () => {
    expect(USED.size).toBeGreaterThan(10);
    expect([...usedActions].filter((a) => a.startsWith("unmapped:"))).toEqual([]);
  });

  it.each(FUNCTION_NAMES.map((fn) => [fn] as const))(
    "%s: the needed actions are all used by the code and all granted",
    (fn) => {
      for (const action of Object.keys(NEEDED[fn])) {
        expect(usedActions, `${fn}: ${action} (${NEEDED[fn][action]}) is not asked by any command`).toContain(
          action,
        );
        expect(granted(fn), `${fn} needs ${action}`).toContain(action);
      }
    },
  );

  it.each(FUNCTION_NAMES.map((fn) => [fn] as const))(
    "%s: nothing is granted beyond the need (but the listed findings)",
    (fn) => {
      const extra = [...granted(fn)].filter((a) => !(a in NEEDED[fn])).sort();
      expect(extra).toEqual([...(GRANTED_UNUSED[fn] ?? [])].sort());
      for (const action of extra)
        expect(usedActions, `${action} is listed as unused but the code now uses it`).not.toContain(action);
    },
  );

  it("every action the Lambda code can ask for is granted to some function, or is a listed exception", () => {
    const anyGrant = new Set(FUNCTION_NAMES.flatMap((fn) => [...granted(fn)]));
    const missing = [...usedActions].filter((a) => !anyGrant.has(a) && !(a in USED_UNGRANTED));
    // Bucket-configuration reads belong to `doctor` (CLI), which is not part of any Lambda bundle.
    expect(missing).toEqual([]);
    expect(commandsIn(doctorFiles)).toContain("GetBucketVersioning");
    const figures = FUNCTION_NAMES.map((fn) => `${fn} ${granted(fn).size}`).join(", ");
    process.stdout.write(
      `iam: ${USED.size} SDK commands in the Lambda code → ${usedActions.size} actions; granted per function (code-facing): ${figures}; granted but unused: ${Object.values(GRANTED_UNUSED).flat().join(", ") || "none"}; s3:DeleteObject on state/drills/ only (test/infra/permissions.test.ts)\n`,
    );
  });
});

// What each Lambda function is and may do, as plain data (no SST or Pulumi globals), so that tests and
// the README can check it without building functions (SST functions cannot be built under Pulumi mocks).
// infra/functions.ts turns this into `sst.aws.Function` args. Nothing here uses SST's `link` grants for
// the bucket, bus or topic (`s3:*`, `events:*`, `sns:*`): every statement is explicit and scoped.
import { EXPIRABLE_PREFIXES } from "../packages/core/src/bucket-policy.ts";
import type { Config } from "../packages/core/src/config.ts";
import {
  CONFIG_ROOT,
  DRILLS_PREFIX,
  MANIFESTS_ROOT,
  STATE_ROOT,
  VELERO_ROOT,
} from "../packages/core/src/export-layout.ts";
import { parseSecretRef, type SecretRefKind } from "../packages/core/src/secret-ref.ts";

export const FunctionName = {
  scheduled: "scheduled",
  reconcile: "reconcile",
  onDemand: "onDemand",
  notify: "notify",
} as const;
export type FunctionName = (typeof FunctionName)[keyof typeof FunctionName];
export const FUNCTION_NAMES: readonly FunctionName[] = Object.values(FunctionName);

export interface FunctionSpec {
  /** SST component name (PascalCase). */
  component: string;
  /** Handler path relative to the repo root, as SST expects it. */
  handler: string;
  description: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Lambda async-invoke retries (Scheduler and EventBridge invoke asynchronously). */
  retries: number;
  /** Failed async invocations (after the retries) go to the dead-letter queue. */
  deadLetterQueue: boolean;
  /** Talks to the cluster API (gets the cluster credentials and, when configured, the VPC). */
  usesCluster: boolean;
}

export const FUNCTION_SPECS: Readonly<Record<FunctionName, FunctionSpec>> = {
  scheduled: {
    component: "Scheduled",
    handler: "packages/functions/src/scheduled.handler",
    description: "kots-backup: claims a schedule slot and triggers the KOTS backup (EventBridge Scheduler)",
    // Claim + one kotsadm request; it returns once kotsadm accepted the backup.
    timeoutSeconds: 120,
    memoryMb: 512,
    // Retries are safe: the slot claim makes a second invocation for the same slot a no-op.
    retries: 2,
    deadLetterQueue: true,
    usesCluster: true,
  },
  reconcile: {
    component: "Reconcile",
    handler: "packages/functions/src/reconcile.handler",
    description: "kots-backup: follows backups, runs exports in chunks, verifies freshness (every 5 minutes)",
    timeoutSeconds: 900,
    memoryMb: 1024,
    // The next run, five minutes later, is the retry.
    retries: 0,
    deadLetterQueue: false,
    usesCluster: true,
  },
  onDemand: {
    component: "OnDemand",
    handler: "packages/functions/src/on-demand.handler",
    description:
      "kots-backup: on-demand actions from the console or `aws lambda invoke` (docs/contract.md §4)",
    timeoutSeconds: 900,
    memoryMb: 1024,
    retries: 0,
    deadLetterQueue: false,
    usesCluster: true,
  },
  notify: {
    component: "Notify",
    handler: "packages/functions/src/notify.handler",
    description: "kots-backup: delivers Check Down/Up and failure events to the configured alert channels",
    timeoutSeconds: 60,
    memoryMb: 256,
    retries: 2,
    deadLetterQueue: true,
    usesCluster: false,
  },
};

// ── Secret references ──────────────────────────────────────────────────────────────────────────────

export interface SecretUse {
  /** Config path, e.g. `alerts.pagerDuty.routingKey`. */
  field: string;
  /** The reference as written (`sst:PagerDutyRoutingKey`, `arn:aws:secretsmanager:…`). */
  ref: string;
  kind: SecretRefKind;
  /** SST secret name, ARN, variable name or path. */
  name: string;
  usedBy: readonly FunctionName[];
}

const CLUSTER_USERS: readonly FunctionName[] = ["scheduled", "reconcile", "onDemand"];
const EXPORTERS: readonly FunctionName[] = ["reconcile", "onDemand"];
const NOTIFIERS: readonly FunctionName[] = ["notify"];
/** The restore drill runs in onDemand only (the drill schedule's target). */
const DRILLERS: readonly FunctionName[] = ["onDemand"];

/** Every secret reference in the config, with the functions that read it. */
export function secretUses(config: Config): SecretUse[] {
  const found: Array<{ field: string; ref: string | undefined; usedBy: readonly FunctionName[] }> = [
    { field: "cluster.credentials", ref: config.cluster.credentials, usedBy: CLUSTER_USERS },
    { field: "drill.cluster.credentials", ref: config.drill?.cluster?.credentials, usedBy: DRILLERS },
  ];
  for (const [section, creds] of [
    ["export.credentials", config.export.credentials],
    ["export.bsl.credentials", config.export.bsl?.credentials],
  ] as const) {
    if (!creds) continue;
    for (const [key, ref] of Object.entries(creds)) {
      found.push({ field: `${section}.${key}`, ref, usedBy: EXPORTERS });
    }
  }
  const alerts = config.alerts;
  found.push(
    { field: "alerts.pagerDuty.routingKey", ref: alerts.pagerDuty?.routingKey, usedBy: NOTIFIERS },
    { field: "alerts.slack.webhookUrl", ref: alerts.slack?.webhookUrl, usedBy: NOTIFIERS },
    { field: "alerts.webhook.url", ref: alerts.webhook?.url, usedBy: NOTIFIERS },
  );
  for (const [header, value] of Object.entries(alerts.webhook?.headers ?? {})) {
    // Plain header values (not credentials) are allowed by the schema; only references are secrets.
    if (parseSecretRef(value))
      found.push({ field: `alerts.webhook.headers.${header}`, ref: value, usedBy: NOTIFIERS });
  }
  // daemon.heartbeatUrl is the local daemon's; on AWS the dead man's switch is the Heartbeat alarm.

  const uses: SecretUse[] = [];
  for (const { field, ref, usedBy } of found) {
    if (ref === undefined) continue;
    const parsed = parseSecretRef(ref);
    if (!parsed) continue; // the schema already refused it
    uses.push({ field, ref, kind: parsed.kind, name: parsed.name, usedBy });
  }
  return uses;
}

/** Names of the `sst.Secret`s the config references (`sst:Name`), optionally only those `fn` reads. */
export function sstSecretNames(config: Config, fn?: FunctionName): string[] {
  const names = secretUses(config)
    .filter((use) => use.kind === "sst" && (fn === undefined || use.usedBy.includes(fn)))
    .map((use) => use.name);
  return [...new Set(names)].sort();
}

// ── IAM statements ─────────────────────────────────────────────────────────────────────────────────

export interface PermissionCondition {
  test: string;
  variable: string;
  values: string[];
}

/** One IAM allow statement, in the shape of SST's `FunctionPermissionArgs`. */
export interface PermissionStatement {
  actions: string[];
  resources: string[];
  conditions?: PermissionCondition[];
}

/** The deployed resources a function's statements point at (resolved ARNs). */
export interface PermissionTargets {
  partition: string;
  region: string;
  accountId: string;
  bucketArn: string;
  /** Destination prefix inside the bucket, no slash at either end ("" for the root), e.g. `prod-eu`. */
  prefix: string;
  kmsKeyArn: string;
  /** The stack's event bus (docs/contract.md §5 events). */
  busArn: string;
  /** The dead-letter queue of failed scheduled/notify invocations. */
  deadLetterQueueArn: string;
}

/** The four top-level folders kots-backup writes under the destination prefix (docs/contract.md §6). */
export const EXPORT_FOLDERS = [STATE_ROOT, VELERO_ROOT, MANIFESTS_ROOT, CONFIG_ROOT] as const;

/** Where kots-backup tags objects expirable once `keepLast` newer verified exports exist (core). */
const EXPIRABLE_FOLDERS = EXPIRABLE_PREFIXES;

const OBJECT_READ = ["s3:GetObject"];
const OBJECT_WRITE = ["s3:PutObject", "s3:AbortMultipartUpload"];

/** `<prefix>/<folder>` with folders written as `state/`: the key prefix of a folder. */
function keyPrefix(t: PermissionTargets, folder: string): string {
  return t.prefix === "" ? folder : `${t.prefix}/${folder}`;
}

function objectArns(t: PermissionTargets, folders: readonly string[]): string[] {
  return folders.map((folder) => `${t.bucketArn}/${keyPrefix(t, folder)}*`);
}

/**
 * Listing the stack's own bucket. Deliberately without an `s3:prefix` condition: S3 answers a GET or
 * HEAD of a missing key with 404 only to callers allowed `s3:ListBucket` on the bucket, and the request
 * context of a GET/HEAD has no `s3:prefix`, so a prefix-conditioned grant turns every "not found" into a
 * 403 (which the exports' "already there?" checks and the slot claims rely on). Listing shows key names
 * only; reading and writing stay limited to the folders below.
 */
function listBucket(t: PermissionTargets): PermissionStatement {
  return { actions: ["s3:ListBucket"], resources: [t.bucketArn] };
}

/** SSE-KMS with a bucket key: data keys for writes, decrypt for reads, only through S3. */
function kmsForS3(t: PermissionTargets): PermissionStatement {
  return {
    actions: ["kms:GenerateDataKey", "kms:Decrypt"],
    resources: [t.kmsKeyArn],
    conditions: [{ test: "StringLike", variable: "kms:ViaService", values: ["s3.*.amazonaws.com"] }],
  };
}

function secretsManagerArns(config: Config, fn: FunctionName): string[] {
  const arns = secretUses(config)
    .filter((use) => use.kind === "secretsmanager" && use.usedBy.includes(fn))
    // A secret ARN may be written without the 6-character suffix Secrets Manager appends to the name;
    // IAM matches the full ARN, so grant the written ARN and its suffixed form.
    .flatMap((use) => [use.name, `${use.name}-??????`]);
  return [...new Set(arns)].sort();
}

/** eks:DescribeCluster on the EKS clusters `fn` reaches: the main one, and the drill's DR one (onDemand). */
function eksStatement(
  config: Config,
  fn: FunctionName,
  t: PermissionTargets,
): PermissionStatement | undefined {
  const clusters: Array<{ clusterName: string; region: string }> = [];
  if (FUNCTION_SPECS[fn].usesCluster && config.cluster.eks) clusters.push(config.cluster.eks);
  if (DRILLERS.includes(fn) && config.drill?.cluster?.eks) clusters.push(config.drill.cluster.eks);
  if (clusters.length === 0) return undefined;
  return {
    actions: ["eks:DescribeCluster"],
    resources: [
      ...new Set(
        clusters.map(
          (eks) => `arn:${t.partition}:eks:${eks.region}:${t.accountId}:cluster/${eks.clusterName}`,
        ),
      ),
    ],
  };
}

function busArnOf(busName: string, t: PermissionTargets): string {
  return busName.startsWith("arn:")
    ? busName
    : `arn:${t.partition}:events:${t.region}:${t.accountId}:event-bus/${busName}`;
}

/**
 * Read-only access to each external recovery point verify watches (packages/adapters/src/external):
 * - rds: rds:DescribeDBSnapshots (instance) or rds:DescribeDBClusterSnapshots (Aurora cluster), on the
 *   instance or cluster and on its snapshots (`snapshot:*` / `cluster-snapshot:*`: manual snapshots can
 *   have any name, and IAM authorizes the call on both resource types);
 * - aws-backup: backup:ListRecoveryPointsByResource, which takes no resource-level permission, so `*`;
 * - s3: s3:GetBucketVersioning and s3:GetReplicationConfiguration on the bucket, s3:ListBucket on the
 *   replica. `command` points never run on Lambda (infra/config.ts refuses them).
 */
export function externalStatements(config: Config, t: PermissionTargets): PermissionStatement[] {
  const statements: PermissionStatement[] = [];
  const rds = (region: string | undefined, type: string) =>
    `arn:${t.partition}:rds:${region ?? t.region}:${t.accountId}:${type}`;
  for (const point of config.external) {
    switch (point.kind) {
      case "rds":
        statements.push(
          point.cluster !== undefined
            ? {
                actions: ["rds:DescribeDBClusterSnapshots"],
                resources: [
                  rds(point.region, `cluster:${point.cluster}`),
                  rds(point.region, "cluster-snapshot:*"),
                ],
              }
            : {
                actions: ["rds:DescribeDBSnapshots"],
                resources: [rds(point.region, `db:${point.instance}`), rds(point.region, "snapshot:*")],
              },
        );
        break;
      case "aws-backup":
        if (!statements.some((s) => s.actions.includes("backup:ListRecoveryPointsByResource")))
          statements.push({ actions: ["backup:ListRecoveryPointsByResource"], resources: ["*"] });
        break;
      case "s3":
        statements.push({
          actions: ["s3:GetBucketVersioning", "s3:GetReplicationConfiguration"],
          resources: [`arn:${t.partition}:s3:::${point.bucket}`],
        });
        if (point.replica)
          statements.push({
            actions: ["s3:ListBucket"],
            resources: [`arn:${t.partition}:s3:::${point.replica.bucket}`],
          });
        break;
      case "command":
        break;
    }
  }
  return statements;
}

function compact(statements: Array<PermissionStatement | undefined | false>): PermissionStatement[] {
  return statements.filter(
    (s): s is PermissionStatement => Boolean(s) && (s as PermissionStatement).resources.length > 0,
  );
}

/** The IAM statements `fn` gets, and nothing else (besides CloudWatch Logs from SST's logging default). */
export function functionPermissions(
  fn: FunctionName,
  config: Config,
  t: PermissionTargets,
): PermissionStatement[] {
  const spec = FUNCTION_SPECS[fn];
  const secrets = secretsManagerArns(config, fn);
  const secretStatement: PermissionStatement | undefined =
    secrets.length > 0 ? { actions: ["secretsmanager:GetSecretValue"], resources: secrets } : undefined;
  const cluster = eksStatement(config, fn, t);
  const dlq: PermissionStatement | undefined = spec.deadLetterQueue
    ? { actions: ["sqs:SendMessage"], resources: [t.deadLetterQueueArn] }
    : undefined;
  const putEvents: PermissionStatement = { actions: ["events:PutEvents"], resources: [t.busArn] };

  switch (fn) {
    case "scheduled":
      // Claims the slot (a conditional write under state/), triggers the backup, emits Backup Started/Skipped.
      return compact([
        { actions: ["s3:GetObject", "s3:PutObject"], resources: objectArns(t, [STATE_ROOT]) },
        listBucket(t),
        kmsForS3(t),
        putEvents,
        dlq,
        cluster,
        secretStatement,
      ]);
    case "reconcile":
    case "onDemand":
      // Follow backups, export (velero/, manifests/, config/), verify, alert state (state/).
      return compact([
        { actions: [...OBJECT_READ, ...OBJECT_WRITE], resources: objectArns(t, EXPORT_FOLDERS) },
        {
          actions: ["s3:PutObjectTagging"],
          resources: objectArns(t, EXPIRABLE_FOLDERS),
        },
        // onDemand runs the restore drill, which keeps only the newest runs under state/drills/. The only
        // delete anywhere: without a version id it adds a delete marker, which Object Lock allows.
        fn === "onDemand" && { actions: ["s3:DeleteObject"], resources: objectArns(t, [DRILLS_PREFIX]) },
        listBucket(t),
        { actions: ["s3:ListBucketMultipartUploads"], resources: [t.bucketArn] },
        kmsForS3(t),
        putEvents,
        dlq,
        cluster,
        secretStatement,
        ...externalStatements(config, t),
      ]);
    case "notify": {
      // Delivers to the configured channels; the AWS ones need their own grant.
      const channels = config.alerts;
      return compact([
        channels.eventBridge && {
          actions: ["events:PutEvents"],
          resources: [busArnOf(channels.eventBridge.busName, t)],
        },
        channels.sns && { actions: ["sns:Publish"], resources: [channels.sns.topicArn] },
        dlq,
        secretStatement,
      ]);
    }
  }
}

// Each function's IAM statements as data (infra/permissions.ts), checked without building functions.
import { describe, expect, it } from "vitest";
import { deploySettings } from "../../infra/config.ts";
import {
  FUNCTION_NAMES,
  FUNCTION_SPECS,
  type FunctionName,
  functionPermissions,
  type PermissionStatement,
  type PermissionTargets,
  secretUses,
  sstSecretNames,
} from "../../infra/permissions.ts";

const BUCKET = "arn:aws:s3:::acme-kots-exports";
const targets = (prefix = "prod-eu"): PermissionTargets => ({
  partition: "aws",
  region: "eu-west-1",
  accountId: "123456789012",
  bucketArn: BUCKET,
  prefix,
  kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
  busArn: "arn:aws:events:eu-west-1:123456789012:event-bus/kots-backup-prod-Events",
  deadLetterQueueArn: "arn:aws:sqs:eu-west-1:123456789012:kots-backup-prod-DeadLetters",
});

const SM_CLUSTER = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kots/cluster";
const config = deploySettings({
  cluster: { name: "prod-eu", credentials: "sst:ClusterCredentials" },
  schedules: [{ name: "nightly", cron: "30 2 * * *" }],
  export: { destination: "s3://acme-kots-exports/prod-eu" },
  alerts: {
    pagerDuty: { routingKey: "sst:PagerDutyRoutingKey" },
    slack: { webhookUrl: "sst:SlackWebhookUrl" },
    webhook: { url: `${SM_CLUSTER}-hook`, headers: { "X-Team": "platform" } },
  },
}).config;

const statementsOf = (fn: FunctionName, c = config, t = targets()) => functionPermissions(fn, c, t);
const actionsOf = (statements: PermissionStatement[]) => statements.flatMap((s) => s.actions).sort();
const resourcesFor = (statements: PermissionStatement[], action: string) =>
  statements.filter((s) => s.actions.includes(action)).flatMap((s) => s.resources);

/** IAM's ARN wildcards: `*` any run of characters (`/` included), `?` one character. */
const arnPattern = (arn: string) =>
  new RegExp(
    `^${arn
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
/** Whether an unconditioned Allow statement grants `action` on `arn` (the grants have no Deny). */
const allows = (statements: PermissionStatement[], action: string, arn: string) =>
  statements.some(
    (s) => !s.conditions && s.actions.includes(action) && s.resources.some((r) => arnPattern(r).test(arn)),
  );

describe("function specs", () => {
  it("names the four handlers by path, on their own timeouts", () => {
    expect(Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, FUNCTION_SPECS[fn].handler]))).toEqual({
      scheduled: "packages/functions/src/scheduled.handler",
      reconcile: "packages/functions/src/reconcile.handler",
      onDemand: "packages/functions/src/on-demand.handler",
      notify: "packages/functions/src/notify.handler",
    });
    expect(FUNCTION_SPECS.reconcile.timeoutSeconds).toBe(900);
    for (const fn of FUNCTION_NAMES) expect(FUNCTION_SPECS[fn].timeoutSeconds).toBeLessThanOrEqual(900);
    expect(FUNCTION_SPECS.notify.usesCluster).toBe(false);
  });
});

describe("IAM per function", () => {
  it("never grants a wildcard action or a whole-bucket object grant", () => {
    for (const fn of FUNCTION_NAMES) {
      for (const statement of statementsOf(fn)) {
        for (const action of statement.actions) expect(action, `${fn}: ${action}`).not.toMatch(/\*/);
        for (const resource of statement.resources) {
          // AWS Backup's ListRecoveryPointsByResource takes no resource-level permission (test/infra/external.test.ts).
          if (statement.actions.join() !== "backup:ListRecoveryPointsByResource")
            expect(resource, fn).not.toBe("*");
          expect(resource, fn).not.toBe(`${BUCKET}/*`);
        }
      }
    }
  });

  it("scheduled: state/ only, its KMS key through S3, PutEvents on the stack bus, the DLQ", () => {
    const statements = statementsOf("scheduled");
    expect(statements).toEqual([
      { actions: ["s3:GetObject", "s3:PutObject"], resources: [`${BUCKET}/prod-eu/state/*`] },
      // Unconditioned on purpose: without it a GET/HEAD of a missing key is a 403, not a 404.
      { actions: ["s3:ListBucket"], resources: [BUCKET] },
      {
        actions: ["kms:GenerateDataKey", "kms:Decrypt"],
        resources: [targets().kmsKeyArn],
        conditions: [{ test: "StringLike", variable: "kms:ViaService", values: ["s3.*.amazonaws.com"] }],
      },
      { actions: ["events:PutEvents"], resources: [targets().busArn] },
      { actions: ["sqs:SendMessage"], resources: [targets().deadLetterQueueArn] },
    ]);
  });

  it.each(["reconcile", "onDemand"] as const)(
    "%s: the four export folders, tagging only where retention tags, no delete of exports",
    (fn) => {
      const statements = statementsOf(fn);
      const folders = ["state", "velero", "manifests", "config"].map((f) => `${BUCKET}/prod-eu/${f}/*`);
      expect(resourcesFor(statements, "s3:PutObject")).toEqual(folders);
      expect(resourcesFor(statements, "s3:GetObject")).toEqual(folders);
      expect(resourcesFor(statements, "s3:AbortMultipartUpload")).toEqual(folders);
      expect(resourcesFor(statements, "s3:PutObjectTagging")).toEqual([
        `${BUCKET}/prod-eu/velero/backups/*`,
        `${BUCKET}/prod-eu/manifests/*`,
        `${BUCKET}/prod-eu/config/*`,
      ]);
      expect(resourcesFor(statements, "s3:ListBucket")).toEqual([BUCKET]);
      // Deleting is only ever the drill's pruning of its own run records (below).
      for (const resource of resourcesFor(statements, "s3:DeleteObject"))
        expect(resource).toBe(`${BUCKET}/prod-eu/state/drills/*`);
      expect(actionsOf(statements)).not.toContain("s3:DeleteObjectVersion");
      expect(actionsOf(statements)).not.toContain("s3:BypassGovernanceRetention");
      expect(resourcesFor(statements, "events:PutEvents")).toEqual([targets().busArn]);
      expect(actionsOf(statements)).not.toContain("sqs:SendMessage");
    },
  );

  it("onDemand, which runs the drill, may delete its run records under state/drills/ and nothing else", () => {
    const drillRun = (prefix: string) => `${BUCKET}/${prefix}state/drills/2026-01-02T03:04:05.000Z.json`;
    for (const prefix of ["prod-eu", ""]) {
      const p = prefix === "" ? "" : `${prefix}/`;
      const onDemand = statementsOf("onDemand", config, targets(prefix));
      expect(allows(onDemand, "s3:DeleteObject", drillRun(p))).toBe(true);
      for (const key of [
        "state/drills", // the folder itself is no run record
        "state/alerts/drill.json",
        "state/claims/nightly/2026-01-02T02:30:00.000Z.json",
        "velero/backups/nightly-1/nightly-1.tar.gz",
        "velero/kopia/default/p0123",
        "manifests/nightly-1.json",
        "config/nightly-1.tar.gz",
      ])
        expect(allows(onDemand, "s3:DeleteObject", `${BUCKET}/${p}${key}`), key).toBe(false);
      // Another deployment's drill runs in the same bucket are not this stack's to prune.
      expect(allows(onDemand, "s3:DeleteObject", drillRun("prod-us/"))).toBe(false);
      // A versioned delete (which would destroy data instead of adding a delete marker) stays refused.
      expect(allows(onDemand, "s3:DeleteObjectVersion", drillRun(p))).toBe(false);
      for (const fn of ["scheduled", "reconcile", "notify"] as const)
        expect(allows(statementsOf(fn, config, targets(prefix)), "s3:DeleteObject", drillRun(p)), fn).toBe(
          false,
        );
    }
  });

  it("notify: no bucket, no cluster; only the configured AWS channels and its DLQ", () => {
    expect(statementsOf("notify")).toEqual([
      { actions: ["sqs:SendMessage"], resources: [targets().deadLetterQueueArn] },
      {
        actions: ["secretsmanager:GetSecretValue"],
        resources: [`${SM_CLUSTER}-hook`, `${SM_CLUSTER}-hook-??????`],
      },
    ]);
    const withAwsChannels = deploySettings({
      cluster: { credentials: "sst:ClusterCredentials" },
      alerts: {
        eventBridge: { busName: "default" },
        sns: { topicArn: "arn:aws:sns:eu-west-1:123456789012:oncall" },
      },
    }).config;
    const statements = statementsOf("notify", withAwsChannels);
    expect(resourcesFor(statements, "events:PutEvents")).toEqual([
      "arn:aws:events:eu-west-1:123456789012:event-bus/default",
    ]);
    expect(resourcesFor(statements, "sns:Publish")).toEqual(["arn:aws:sns:eu-west-1:123456789012:oncall"]);
  });

  it("grants Secrets Manager reads only to the functions that use each secret", () => {
    const c = deploySettings({
      cluster: { credentials: SM_CLUSTER },
      alerts: { pagerDuty: { routingKey: "sst:PagerDutyRoutingKey" } },
    }).config;
    for (const fn of ["scheduled", "reconcile", "onDemand"] as const) {
      expect(resourcesFor(statementsOf(fn, c), "secretsmanager:GetSecretValue")).toEqual([
        SM_CLUSTER,
        `${SM_CLUSTER}-??????`,
      ]);
    }
    expect(actionsOf(statementsOf("notify", c))).not.toContain("secretsmanager:GetSecretValue");
  });

  it("grants eks:DescribeCluster on the configured EKS cluster only", () => {
    const c = deploySettings({ cluster: { eks: { clusterName: "prod", region: "eu-west-1" } } }).config;
    expect(resourcesFor(statementsOf("reconcile", c), "eks:DescribeCluster")).toEqual([
      "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
    ]);
    expect(actionsOf(statementsOf("notify", c))).not.toContain("eks:DescribeCluster");
  });

  it("scopes to the bucket root when the destination has no prefix", () => {
    expect(statementsOf("scheduled", config, targets(""))[0]?.resources).toEqual([`${BUCKET}/state/*`]);
  });
});

describe("secret references", () => {
  it("maps each reference to the functions that read it", () => {
    expect(secretUses(config).map((u) => [u.field, u.kind, u.usedBy])).toEqual([
      ["cluster.credentials", "sst", ["scheduled", "reconcile", "onDemand"]],
      ["alerts.pagerDuty.routingKey", "sst", ["notify"]],
      ["alerts.slack.webhookUrl", "sst", ["notify"]],
      ["alerts.webhook.url", "secretsmanager", ["notify"]],
    ]);
    expect(sstSecretNames(config)).toEqual(["ClusterCredentials", "PagerDutyRoutingKey", "SlackWebhookUrl"]);
    expect(sstSecretNames(config, "notify")).toEqual(["PagerDutyRoutingKey", "SlackWebhookUrl"]);
    expect(sstSecretNames(config, "scheduled")).toEqual(["ClusterCredentials"]);
  });
});

// The whole stack: sst.config.ts `run()` under Pulumi mocks, from a kots-backup.yaml, with a stand-in for
// `sst.aws.Function` (which cannot be built under mocks) that records the args infra passes. Checks the
// wiring and each function's args, including its IAM statements with the real resource ARNs.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_PLUGINS_FILE, ESBUILD_OPTIONS } from "../../infra/bundling.ts";
import { CONFIG_PATH_ENV, deploySettings } from "../../infra/config.ts";
import { NODE_OPTIONS } from "../../infra/node-options.ts";
import { functionPermissions } from "../../infra/permissions.ts";
import {
  ACCOUNT,
  byType,
  type FakeFunctionRecord,
  type Harness,
  type MockResource,
  one,
  ROOT,
  setupHarness,
} from "./harness.ts";

// biome-ignore lint/suspicious/noExplicitAny: untyped Pulumi values.
type Loose = any;

const SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kots/slack";
const YAML = [
  "cluster: { name: prod-eu, credentials: 'sst:ClusterCredentials' }",
  "schedules:",
  "  - { name: nightly, cron: '30 2 * * *', timezone: Europe/Paris }",
  "  - { name: app-6h, cron: '0 */6 * * *', type: partial, app: my-app, paused: true }",
  "export: { destination: 's3://acme-kots-exports/prod-eu' }",
  `alerts: { pagerDuty: { routingKey: 'sst:PagerDutyRoutingKey' }, slack: { webhookUrl: '${SM}' } }`,
].join("\n");

let h: Harness;
let resources: MockResource[];
let outputs: Loose;
let fns: Map<string, FakeFunctionRecord>;

function argsOf(name: string): Loose {
  const record = fns.get(name);
  if (!record) throw new Error(`no function ${name}`);
  return record.args;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "kb-stack-"));
  writeFileSync(join(dir, "kots-backup.yaml"), YAML);
  process.env[CONFIG_PATH_ENV] = join(dir, "kots-backup.yaml");
  process.env["SST_SECRET_ClusterCredentials"] = '{"server":"https://k8s","caData":"","token":"t"}';
  process.env["SST_SECRET_PagerDutyRoutingKey"] = "R0UT1NGKEY";
  h = await setupHarness();
  const config = (await import(join(ROOT, "sst.config.ts"))).default;
  expect(config.app({ stage: "prod" })).toMatchObject({
    name: "kots-backup",
    home: "aws",
    removal: "retain",
  });
  expect(config.app({ stage: "dev" }).removal).toBe("remove");
  resources = await h.capture(async () => {
    outputs = await config.run();
  });
  fns = new Map(h.functions.map((f) => [f.name, f]));
});

describe("the stack from sst.config.ts", () => {
  it("creates the bucket, key, bus, topic, queue, schedules and four functions", () => {
    const types = new Set(resources.map((r) => r.type));
    for (const type of [
      "sst:aws:Bucket",
      "aws:kms/key:Key",
      "sst:aws:Bus",
      "sst:aws:SnsTopic",
      "aws:sqs/queue:Queue",
      "aws:cloudwatch/metricAlarm:MetricAlarm",
      "aws:scheduler/schedule:Schedule",
      "sst:sst:Linkable",
    ]) {
      expect(types, type).toContain(type);
    }
    expect([...fns.keys()]).toEqual(["Scheduled", "Reconcile", "OnDemand", "Notify"]);
    expect(
      byType(resources, "aws:scheduler/schedule:Schedule")
        .map((s) => s.name)
        .sort(),
    ).toEqual(["ReconcileScheduleSchedule", "ScheduleApp6hSchedule", "ScheduleNightlySchedule"]);
    expect(byType(resources, "sst:sst:Secret").map((s) => s.name)).toEqual([
      "ClusterCredentials",
      "PagerDutyRoutingKey",
    ]);
  });

  it("returns useful outputs", async () => {
    const resolved = await h.value<Loose>(outputs);
    expect(resolved).toMatchObject({
      bucket: "acme-kots-exports",
      prefix: "prod-eu",
      onDemandFunction: "kots-backup-test-OnDemandFunction",
      secrets: ["ClusterCredentials", "PagerDutyRoutingKey"],
    });
    expect(resolved.schedules).toHaveLength(2);
    expect(resolved.alarmTopic).toMatch(/^arn:aws:sns:/);
  });

  it("targets the deployed scheduled and reconcile functions from the schedules", () => {
    const schedule = (name: string) => one(resources, "aws:scheduler/schedule:Schedule", name).inputs;
    for (const name of ["ScheduleNightlySchedule", "ScheduleApp6hSchedule"]) {
      expect(schedule(name)["target"].arn).toBe(
        `arn:aws:lambda:us-east-1:${ACCOUNT}:function:kots-backup-test-ScheduledFunction`,
      );
    }
    expect(schedule("ScheduleApp6hSchedule")["state"]).toBe("DISABLED");
    expect(schedule("ReconcileScheduleSchedule")["target"].arn).toBe(
      `arn:aws:lambda:us-east-1:${ACCOUNT}:function:kots-backup-test-ReconcileFunction`,
    );
  });

  it("gives every function nodejs24.x, its handler, timeout and memory", () => {
    expect(
      Object.fromEntries(
        [...fns].map(([name, f]) => [name, [f.args.handler, f.args.runtime, f.args.timeout, f.args.memory]]),
      ),
    ).toEqual({
      Scheduled: ["packages/functions/src/scheduled.handler", "nodejs24.x", "120 seconds", "512 MB"],
      Reconcile: ["packages/functions/src/reconcile.handler", "nodejs24.x", "900 seconds", "1024 MB"],
      OnDemand: ["packages/functions/src/on-demand.handler", "nodejs24.x", "900 seconds", "1024 MB"],
      Notify: ["packages/functions/src/notify.handler", "nodejs24.x", "60 seconds", "256 MB"],
    });
  });

  it("runs every function with the deployments' Node options (infra/node-options.ts)", () => {
    for (const [name, f] of fns) {
      expect((f.args.environment as Record<string, string>)["NODE_OPTIONS"], name).toBe(NODE_OPTIONS);
    }
  });

  it("bundles every function as scripts/bundle-size.ts measures it (infra/bundling.ts)", () => {
    for (const [name, f] of fns) {
      expect(f.args.nodejs, name).toEqual({
        minify: true,
        esbuild: ESBUILD_OPTIONS,
        plugins: BUNDLE_PLUGINS_FILE,
      });
    }
  });

  it("links only values (the deployment and the secrets each reads), never the bucket, bus or topic", () => {
    const linked = (name: string) =>
      (argsOf(name).link as Loose[]).map((l) => `${l.constructor.name}:${l._name ?? ""}`);
    expect(linked("Scheduled")).toEqual(["Linkable:KotsBackupDeployment", "Secret:ClusterCredentials"]);
    expect(linked("Reconcile")).toEqual(["Linkable:KotsBackupDeployment", "Secret:ClusterCredentials"]);
    expect(linked("OnDemand")).toEqual(["Linkable:KotsBackupDeployment", "Secret:ClusterCredentials"]);
    expect(linked("Notify")).toEqual(["Linkable:KotsBackupDeployment", "Secret:PagerDutyRoutingKey"]);
  });

  it("gives each function exactly its permission data, with the deployed ARNs", async () => {
    const settings = deploySettings({
      cluster: { name: "prod-eu", credentials: "sst:ClusterCredentials" },
      export: { destination: "s3://acme-kots-exports/prod-eu" },
      alerts: { pagerDuty: { routingKey: "sst:PagerDutyRoutingKey" }, slack: { webhookUrl: SM } },
    });
    const targets = {
      partition: "aws",
      region: "us-east-1",
      accountId: ACCOUNT,
      bucketArn: "arn:aws:s3:::acme-kots-exports",
      prefix: "prod-eu",
      kmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/ExportsKey-key-id`,
      busArn: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/${one(resources, "aws:cloudwatch/eventBus:EventBus").inputs["name"]}`,
      deadLetterQueueArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:DeadLetters`,
    };
    for (const [component, fn] of [
      ["Scheduled", "scheduled"],
      ["Reconcile", "reconcile"],
      ["OnDemand", "onDemand"],
      ["Notify", "notify"],
    ] as const) {
      const permissions = await h.value<Loose>(argsOf(component).permissions);
      expect(permissions, component).toEqual(functionPermissions(fn, settings.config, targets));
    }
    const notify = await h.value<Loose[]>(argsOf("Notify").permissions);
    expect(notify.flatMap((s) => s.resources)).toContain(SM);
  });

  it("dead-letters failed async invocations of scheduled and notify", () => {
    for (const [name, expected] of [
      ["Scheduled", true],
      ["Reconcile", false],
      ["OnDemand", false],
      ["Notify", true],
    ] as const) {
      const args: Loose = {};
      argsOf(name).transform.function(args, {}, name);
      expect(args.deadLetterConfig !== undefined, name).toBe(expected);
    }
  });

  it("delivers the validated document pointed at the stack's bucket", async () => {
    const link = byType(resources, "sst:sst:Linkable").find((l) => l.name === "KotsBackupDeployment");
    expect(link).toBeDefined();
    const linkable = (argsOf("Scheduled").link as Loose[])[0];
    const properties = await h.value<Loose>(linkable.getSSTLink().properties);
    expect(properties.config.export.destination).toBe("s3://acme-kots-exports/prod-eu");
    expect(properties).toMatchObject({ bucket: "acme-kots-exports", prefix: "prod-eu" });
  });
});

describe("functions with a VPC", () => {
  it("puts only the cluster-facing functions in the VPC (notify needs the internet)", async () => {
    const { createFunctions } = await h.infra("functions.ts");
    const { createStorage } = await h.infra("storage.ts");
    const { createAlerting } = await h.infra("alerting.ts");
    const settings = {
      ...deploySettings({ cluster: { eks: { clusterName: "prod", region: "us-east-1" } } }),
      vpc: { privateSubnets: ["subnet-1", "subnet-2"], securityGroups: ["sg-1"] },
    };
    const before = h.functions.length;
    await h.capture(() => {
      const storage = createStorage(settings);
      const alerting = createAlerting(settings);
      createFunctions({
        settings,
        storage,
        alerting,
        secrets: { secrets: new Map(), forFunction: () => [] },
      });
    });
    const vpcOf = Object.fromEntries(h.functions.slice(before).map((f) => [f.name, f.args.vpc]));
    const vpc = { privateSubnets: ["subnet-1", "subnet-2"], securityGroups: ["sg-1"] };
    expect(vpcOf).toEqual({ Scheduled: vpc, Reconcile: vpc, OnDemand: vpc, Notify: undefined });
  });
});

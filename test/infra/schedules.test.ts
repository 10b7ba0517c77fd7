// One EventBridge Scheduler schedule per configured schedule (infra/schedules.ts) under Pulumi mocks.
import { beforeAll, describe, expect, it } from "vitest";
import { deploySettings } from "../../infra/config.ts";
import { byType, type MockResource, one, setupHarness } from "./harness.ts";

const SCHEDULED = "arn:aws:lambda:us-east-1:123456789012:function:kots-backup-test-Scheduled";
const RECONCILE = "arn:aws:lambda:us-east-1:123456789012:function:kots-backup-test-Reconcile";
const DLQ = "arn:aws:sqs:us-east-1:123456789012:DeadLetters";

const config = deploySettings({
  cluster: { credentials: "sst:ClusterCredentials" },
  schedules: [
    { name: "nightly", cron: "30 2 * * *", timezone: "Europe/Paris", grace: "1h" },
    { name: "weekdays", cron: "0 9 * * 1-5", timezone: "America/New_York", grace: "2d" },
    { name: "app-6h", cron: "0 */6 * * *", type: "partial", app: "my-app", grace: "30s", paused: true },
  ],
}).config;

// biome-ignore lint/suspicious/noExplicitAny: Pulumi inputs are untyped JSON.
type Loose = any;

describe("schedules under Pulumi mocks", () => {
  let resources: MockResource[];
  let schedules: Map<string, Loose>;

  beforeAll(async () => {
    const h = await setupHarness();
    const { createSchedules } = await h.infra("schedules.ts");
    resources = await h.capture(() =>
      createSchedules({ config, scheduledArn: SCHEDULED, reconcileArn: RECONCILE, deadLetterQueueArn: DLQ }),
    );
    schedules = new Map(
      byType(resources, "aws:scheduler/schedule:Schedule").map((s) => [s.name, s.inputs] as [string, Loose]),
    );
  });

  it("creates one CronV2 per configured schedule, plus reconcile", () => {
    expect(byType(resources, "sst:aws:CronV2").map((c) => c.name)).toEqual([
      "ScheduleNightly",
      "ScheduleWeekdays",
      "ScheduleApp6h",
      "ReconcileSchedule",
    ]);
  });

  it("converts each cron to EventBridge's form and keeps the schedule's time zone", () => {
    expect(schedules.get("ScheduleNightlySchedule")).toMatchObject({
      scheduleExpression: "cron(30 2 * * ? *)",
      scheduleExpressionTimezone: "Europe/Paris",
      flexibleTimeWindow: { mode: "OFF" },
      description: "kots-backup schedule nightly",
    });
    // Monday–Friday: cron 1-5 (SUN=0) is EventBridge 2-6 (SUN=1), with ? in day-of-month.
    expect(schedules.get("ScheduleWeekdaysSchedule")).toMatchObject({
      scheduleExpression: "cron(0 9 ? * 2-6 *)",
      scheduleExpressionTimezone: "America/New_York",
    });
    expect(schedules.get("ScheduleApp6hSchedule")).toMatchObject({
      scheduleExpression: "cron(0 0/6 * * ? *)",
      scheduleExpressionTimezone: "UTC",
    });
  });

  it("targets the scheduled function with the Scheduler context placeholders", () => {
    for (const [name, schedule] of [
      ["nightly", schedules.get("ScheduleNightlySchedule")],
      ["app-6h", schedules.get("ScheduleApp6hSchedule")],
    ] as const) {
      expect(schedule.target.arn).toBe(SCHEDULED);
      expect(JSON.parse(schedule.target.input)).toEqual({
        schedule: name,
        scheduledTime: "<aws.scheduler.scheduled-time>",
        executionId: "<aws.scheduler.execution-id>",
      });
    }
  });

  it("retries within the schedule's grace (60 s – 24 h), then dead-letters", () => {
    expect(schedules.get("ScheduleNightlySchedule").target).toMatchObject({
      retryPolicy: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: DLQ },
    });
    expect(schedules.get("ScheduleWeekdaysSchedule").target.retryPolicy.maximumEventAgeInSeconds).toBe(
      86_400,
    );
    expect(schedules.get("ScheduleApp6hSchedule").target.retryPolicy.maximumEventAgeInSeconds).toBe(60);
  });

  it("creates paused schedules disabled", () => {
    expect(schedules.get("ScheduleNightlySchedule").state).toBe("ENABLED");
    expect(schedules.get("ScheduleApp6hSchedule").state).toBe("DISABLED");
  });

  it("lets the Scheduler role invoke only the scheduled function and write only to the DLQ", () => {
    const role = one(resources, "aws:iam/role:Role", "ScheduleNightlyRole");
    const policy = JSON.parse(role.inputs["inlinePolicies"][0].policy);
    expect(policy.Statement).toEqual([
      { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [SCHEDULED] },
      { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [DLQ] },
    ]);
    const assume = role.inputs["assumeRolePolicy"];
    expect((typeof assume === "string" ? JSON.parse(assume) : assume).Statement[0].Principal).toEqual({
      Service: "scheduler.amazonaws.com",
    });
  });

  it("runs reconcile every 5 minutes in UTC, without retries or DLQ", () => {
    const reconcile = schedules.get("ReconcileScheduleSchedule");
    expect(reconcile).toMatchObject({ scheduleExpression: "rate(5 minutes)", state: "ENABLED" });
    expect(reconcile.scheduleExpressionTimezone).toBeUndefined();
    expect(reconcile.target.arn).toBe(RECONCILE);
    expect(reconcile.target.retryPolicy).toEqual({ maximumRetryAttempts: 0 });
    expect(reconcile.target.deadLetterConfig).toBeUndefined();
  });

  it("refuses two schedule names that would map to one resource name", async () => {
    const h = await setupHarness();
    const { scheduleSpecs } = await h.infra("schedules.ts");
    const clash = deploySettings({
      cluster: { credentials: "sst:ClusterCredentials" },
      schedules: [
        { name: "a-b", cron: "0 1 * * *" },
        { name: "ab", cron: "0 2 * * *" },
      ],
    }).config;
    expect(() => scheduleSpecs(clash)).toThrow(
      /schedules\[1\]\.name: "ab" and "a-b" map to the same AWS resource name/,
    );
  });
});

describe("the restore drill's schedule under Pulumi mocks", () => {
  const ON_DEMAND = "arn:aws:lambda:us-east-1:123456789012:function:kots-backup-test-OnDemand";
  const withDrill = (drill: Record<string, unknown>) =>
    deploySettings({
      cluster: { credentials: "sst:ClusterCredentials" },
      schedules: [{ name: "nightly", cron: "30 2 * * *" }],
      drill,
    }).config;

  async function capture(cfg: ReturnType<typeof withDrill>) {
    const h = await setupHarness();
    const { createSchedules } = await h.infra("schedules.ts");
    return h.capture(() =>
      createSchedules({
        config: cfg,
        scheduledArn: SCHEDULED,
        reconcileArn: RECONCILE,
        onDemandArn: ON_DEMAND,
        deadLetterQueueArn: DLQ,
      }),
    );
  }

  it('invokes onDemand with {"action":"drill"} on drill.schedule, in its zone, retried within its grace', async () => {
    const resources = await capture(
      withDrill({ schedule: "0 5 * * 0", timezone: "Europe/Paris", grace: "2h" }),
    );
    const drill = one(resources, "aws:scheduler/schedule:Schedule", "DrillScheduleSchedule").inputs as Loose;
    expect(drill).toMatchObject({
      scheduleExpression: "cron(0 5 ? * 1 *)",
      scheduleExpressionTimezone: "Europe/Paris",
      state: "ENABLED",
      description: "kots-backup restore drill",
    });
    expect(drill.target.arn).toBe(ON_DEMAND);
    expect(JSON.parse(drill.target.input)).toEqual({ action: "drill" });
    expect(drill.target).toMatchObject({
      retryPolicy: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 7200 },
      deadLetterConfig: { arn: DLQ },
    });
  });

  it("creates it disabled when paused, and not at all without drill:", async () => {
    const paused = await capture(withDrill({ schedule: "0 5 * * 0", paused: true }));
    expect(one(paused, "aws:scheduler/schedule:Schedule", "DrillScheduleSchedule").inputs["state"]).toBe(
      "DISABLED",
    );
    const none = await capture(
      deploySettings({ cluster: { credentials: "sst:ClusterCredentials" }, schedules: [] }).config,
    );
    expect(byType(none, "sst:aws:CronV2").map((c) => c.name)).toEqual(["ReconcileSchedule"]);
  });
});

// Bus + notify subscription, alarm topic + email subscriptions, and the backstop alarms
// (infra/alerting.ts) under Pulumi mocks; the notify rule's pattern is also run on the moto peer.
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { busToQueue } from "../support/aws-peers.ts";
import { describeWithMoto } from "../support/peers.ts";
import { byType, type MockResource, one, setupHarness } from "./harness.ts";

// biome-ignore lint/suspicious/noExplicitAny: Pulumi inputs are untyped JSON.
type Loose = any;

const NOTIFY = "arn:aws:lambda:us-east-1:123456789012:function:kots-backup-test-Notify";
const FUNCTION_NAMES = {
  scheduled: "kots-backup-test-Scheduled",
  reconcile: "kots-backup-test-Reconcile",
  onDemand: "kots-backup-test-OnDemand",
  notify: "kots-backup-test-Notify",
};

let resources: MockResource[];
let infra: Loose;

beforeAll(async () => {
  const h = await setupHarness();
  infra = await h.infra("alerting.ts");
  resources = await h.capture(() => {
    const alerting = infra.createAlerting({
      alarmEmails: ["ops@example.com", "oncall+kots@example.com", "ops@example.com"],
    });
    infra.wireAlerting({ alerting, notifyArn: NOTIFY, functionNames: FUNCTION_NAMES });
  });
});

const alarm = (name: string) => one(resources, "aws:cloudwatch/metricAlarm:MetricAlarm", name).inputs;
const TOPIC = "arn:aws:sns:us-east-1:123456789012:AlarmsTopic";

describe("alerting under Pulumi mocks", () => {
  it("creates the event bus and subscribes notify to the paging detail types of kots-backup", () => {
    one(resources, "aws:cloudwatch/eventBus:EventBus");
    const rule = one(resources, "aws:cloudwatch/eventRule:EventRule");
    expect(JSON.parse(rule.inputs["eventPattern"])).toEqual({
      source: ["kots-backup"],
      "detail-type": ["Check Down", "Check Up", "Backup Failed", "Export Failed"],
    });
    const target = one(resources, "aws:cloudwatch/eventTarget:EventTarget").inputs;
    expect(target).toMatchObject({
      arn: NOTIFY,
      retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 },
      deadLetterConfig: { arn: "arn:aws:sqs:us-east-1:123456789012:DeadLetters" },
    });
    expect(one(resources, "aws:lambda/permission:Permission").inputs).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
    });
  });

  it("lets only the notify rule write to the dead-letter queue (queue policy)", () => {
    const policy = JSON.parse(one(resources, "aws:sqs/queuePolicy:QueuePolicy").inputs["policy"]);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: "arn:aws:sqs:us-east-1:123456789012:DeadLetters",
        Condition: { ArnEquals: { "aws:SourceArn": expect.stringMatching(/^arn:aws:events:.*:rule\//) } },
      }),
    ]);
    expect(one(resources, "aws:sqs/queue:Queue").inputs).toMatchObject({
      messageRetentionSeconds: 1_209_600,
      sqsManagedSseEnabled: true,
    });
  });

  it("creates the alarm topic with one email subscription per distinct address", () => {
    one(resources, "aws:sns/topic:Topic", "AlarmsTopic");
    const subscriptions = byType(resources, "aws:sns/topicSubscription:TopicSubscription").map(
      (s) => s.inputs,
    );
    expect(subscriptions).toEqual([
      { topic: TOPIC, protocol: "email", endpoint: "ops@example.com" },
      { topic: TOPIC, protocol: "email", endpoint: "oncall+kots@example.com" },
    ]);
  });

  it("has a dead man's switch on Heartbeat that treats missing data as breaching", () => {
    expect(alarm("HeartbeatAlarm")).toMatchObject({
      namespace: "KotsBackup",
      metricName: "Heartbeat",
      dimensions: { service: "kots-backup" },
      statistic: "Sum",
      period: 600,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
      alarmActions: [TOPIC],
      okActions: [TOPIC],
    });
  });

  it("alarms on Lambda errors of each function", () => {
    for (const [fn, component, periods] of [
      ["scheduled", "Scheduled", 1],
      ["reconcile", "Reconcile", 3],
      ["onDemand", "OnDemand", 1],
      ["notify", "Notify", 1],
    ] as const) {
      expect(alarm(`${component}ErrorsAlarm`), fn).toMatchObject({
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: FUNCTION_NAMES[fn] },
        statistic: "Sum",
        evaluationPeriods: periods,
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [TOPIC],
      });
    }
  });

  it("alarms on any message in the dead-letter queue", () => {
    expect(alarm("DeadLettersAlarm")).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: "DeadLetters" },
      statistic: "Maximum",
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [TOPIC],
    });
  });

  it("creates exactly six alarms, all to the alarm topic", () => {
    const alarms = byType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm");
    expect(alarms).toHaveLength(6);
    for (const a of alarms) expect(a.inputs["alarmActions"]).toEqual([TOPIC]);
  });
});

describeWithMoto("the notify rule's pattern on the moto EventBridge peer", () => {
  it("delivers Check Down and Backup Failed, not Backup Completed or another source", async () => {
    const pattern = one(resources, "aws:cloudwatch/eventRule:EventRule").inputs["eventPattern"] as string;
    const { eb: events, sqs, busName: name, queue } = await busToQueue(pattern);
    const queueUrl = queue.url;

    const entry = (source: string, detailType: string) => ({
      EventBusName: name,
      Source: source,
      DetailType: detailType,
      Detail: JSON.stringify({
        cluster: "prod",
        schedule: "nightly",
        dedupKey: "kots-backup:prod:nightly",
        kind: detailType,
      }),
    });
    await events.send(
      new PutEventsCommand({
        Entries: [
          entry("kots-backup", "Check Down"),
          entry("kots-backup", "Backup Completed"),
          entry("someone-else", "Check Down"),
          entry("kots-backup", "Backup Failed"),
        ],
      }),
    );
    const received: string[] = [];
    // Drain until an empty receive after the two expected ones, so a wrongly matched third one shows.
    for (let i = 0; i < 6; i++) {
      const batch = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      if ((batch.Messages ?? []).length === 0 && received.length >= 2) break;
      for (const m of batch.Messages ?? []) {
        const event = JSON.parse(m.Body ?? "{}");
        received.push(`${event.source}/${event["detail-type"]}`);
      }
    }
    expect(received.sort()).toEqual(["kots-backup/Backup Failed", "kots-backup/Check Down"]);
  });
});

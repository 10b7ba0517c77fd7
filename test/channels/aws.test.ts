// EventBridge and SNS channels against moto: the emitted event / message is read back from SQS.
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DetailType } from "@kots-backup/core";
import { beforeAll, expect, it } from "vitest";
import { deliver } from "../../packages/adapters/src/alerts/channel.ts";
import { eventBridgeChannel } from "../../packages/adapters/src/alerts/eventbridge.ts";
import { plainText } from "../../packages/adapters/src/alerts/messages.ts";
import { SNS_SUBJECT_MAX, snsChannel, snsSubject } from "../../packages/adapters/src/alerts/sns.ts";
import { describeWithMoto, motoClientConfig } from "../support/peers.ts";
import { backupCompleted, checkDown, event } from "./fixtures.ts";

let n = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++n}`;
const noSleep = async () => {};

async function queue(sqs: SQSClient): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique("kb-q") }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  return { url: QueueUrl!, arn: attrs.Attributes!.QueueArn! };
}

async function receiveAll(sqs: SQSClient, url: string, expected: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < 10 && bodies.length < expected; i += 1) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of out.Messages ?? []) bodies.push(m.Body ?? "");
  }
  // One more short poll: nothing beyond what was expected may have arrived.
  const extra = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  for (const m of extra.Messages ?? []) bodies.push(m.Body ?? "");
  return bodies;
}

describeWithMoto("EventBridge channel (moto)", () => {
  let eb: EventBridgeClient;
  let sqs: SQSClient;
  beforeAll(() => {
    eb = new EventBridgeClient({ ...motoClientConfig(), maxAttempts: 1 });
    sqs = new SQSClient(motoClientConfig());
  });

  it("puts exactly the event on the bus, where a source rule routes it to SQS", async () => {
    const busName = unique("kb-bus");
    await eb.send(new CreateEventBusCommand({ Name: busName }));
    const q = await queue(sqs);
    const rule = unique("kb-rule");
    await eb.send(
      new PutRuleCommand({
        Name: rule,
        EventBusName: busName,
        EventPattern: JSON.stringify({ source: ["kots-backup"] }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: rule, EventBusName: busName, Targets: [{ Id: "q", Arn: q.arn }] }),
    );

    const channel = eventBridgeChannel({ client: eb, busName });
    const results = [
      ...(await deliver([channel], checkDown, { sleep: noSleep })),
      ...(await deliver([channel], backupCompleted, { sleep: noSleep })),
    ];
    expect(results).toEqual([
      { channel: "eventbridge", ok: true, attempts: 1 },
      { channel: "eventbridge", ok: true, attempts: 1 },
    ]);

    const bodies = (await receiveAll(sqs, q.url, 2)).map((b) => JSON.parse(b) as Record<string, unknown>);
    expect(bodies).toHaveLength(2);
    const byType = new Map(bodies.map((b) => [b["detail-type"], b]));
    const down = byType.get("Check Down")!;
    expect(down.source).toBe("kots-backup");
    expect(down.detail).toEqual(checkDown.detail);
    expect(down.time).toBe("2025-03-04T05:06:07Z");
    expect(byType.get("Backup Completed")?.detail).toEqual(backupCompleted.detail);
  });

  it("reports a bus that does not exist as a failed delivery naming the bus", async () => {
    const channel = eventBridgeChannel({ client: eb, busName: unique("kb-absent") });
    const [result] = await deliver([channel], checkDown, { sleep: noSleep, policy: { maxAttempts: 2 } });
    expect(result?.ok).toBe(false);
    expect(result?.error).toMatch(/^eventbridge: /);
    expect(result?.error).toContain("kb-absent");
  });
});

describeWithMoto("SNS channel (moto)", () => {
  let sns: SNSClient;
  let sqs: SQSClient;
  beforeAll(() => {
    sns = new SNSClient({ ...motoClientConfig(), maxAttempts: 1 });
    sqs = new SQSClient(motoClientConfig());
  });

  it("publishes a readable message with a short subject and a detailType attribute", async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique("kb-topic") }));
    const q = await queue(sqs);
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: q.arn }));

    const channel = snsChannel({ client: sns, topicArn: TopicArn! });
    const results = [
      ...(await deliver([channel], checkDown, { sleep: noSleep })),
      // Not a paging detail type: skipped by default.
      ...(await deliver([channel], backupCompleted, { sleep: noSleep })),
    ];
    expect(results.map((r) => [r.ok, r.attempts])).toEqual([
      [true, 1],
      [true, 0],
    ]);
    const bodies = await receiveAll(sqs, q.url, 1);
    expect(bodies).toHaveLength(1);
    const envelope = JSON.parse(bodies[0]!) as {
      Subject: string;
      Message: string;
      MessageAttributes: Record<string, { Type: string; Value: string }>;
    };
    expect(envelope.Subject).toBe("kots-backup: DOWN prod-east/nightly: missed, export-missing");
    expect(envelope.Message).toBe(plainText(checkDown));
    expect(envelope.MessageAttributes.detailType).toEqual({ Type: "String", Value: "Check Down" });
    expect(envelope.MessageAttributes.cluster?.Value).toBe("prod-east");
    expect(envelope.MessageAttributes.schedule?.Value).toBe("nightly");
  });

  it("keeps the subject ASCII, on one line and under 100 characters", () => {
    const subject = snsSubject(
      event(DetailType.checkDown, { cluster: "clüster\nnäme", reasons: ["x".repeat(200)] }),
    );
    expect(subject.length).toBeLessThanOrEqual(SNS_SUBJECT_MAX);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.startsWith("kots-backup: DOWN cluster name/nightly")).toBe(true);
  });
});

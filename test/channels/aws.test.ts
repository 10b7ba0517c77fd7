// EventBridge and SNS channels against moto: the emitted event / message is read back from SQS.
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { DetailType } from "@kots-backup/core";
import { beforeAll, expect, it } from "vitest";
import { deliver } from "../../packages/adapters/src/alerts/channel.ts";
import { eventBridgeChannel } from "../../packages/adapters/src/alerts/eventbridge.ts";
import { plainText } from "../../packages/adapters/src/alerts/messages.ts";
import { SNS_SUBJECT_MAX, snsChannel, snsSubject } from "../../packages/adapters/src/alerts/sns.ts";
import { busToQueue, createQueue, motoEventBridge, motoSqs, receiveAll } from "../support/aws-peers.ts";
import { describeWithMoto, motoClientConfig, uniqueName as unique } from "../support/peers.ts";
import { backupCompleted, checkDown, event } from "./fixtures.ts";

const noSleep = async () => {};

describeWithMoto("EventBridge channel (moto)", () => {
  let eb: EventBridgeClient;
  beforeAll(() => {
    eb = motoEventBridge();
  });

  it("puts exactly the event on the bus, where a source rule routes it to SQS", async () => {
    const { busName, sqs, queue: q } = await busToQueue(JSON.stringify({ source: ["kots-backup"] }));

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
    sqs = motoSqs();
  });

  it("publishes a readable message with a short subject and a detailType attribute", async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique("kb-topic") }));
    const q = await createQueue(sqs);
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

// The moto peer's messaging plumbing for tests that read back what was sent: SQS queues, an EventBridge
// bus whose rule routes matching events to a queue, and draining a queue.
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { motoClientConfig, uniqueName } from "./peers.ts";
import { waitDeadline } from "./wait.ts";

/** An EventBridge client on moto that does not retry (the code under test owns the retries). */
export function motoEventBridge(): EventBridgeClient {
  return new EventBridgeClient({ ...motoClientConfig(), maxAttempts: 1 });
}

export function motoSqs(): SQSClient {
  return new SQSClient(motoClientConfig());
}

export interface TestQueue {
  url: string;
  arn: string;
}

/** A new SQS queue (named uniquely from `name`). */
export async function createQueue(sqs: SQSClient, name = "kb-q"): Promise<TestQueue> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(name) }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  return { url: QueueUrl!, arn: attrs.Attributes!.QueueArn! };
}

export interface BusToQueue {
  eb: EventBridgeClient;
  sqs: SQSClient;
  busName: string;
  queue: TestQueue;
}

/**
 * A new event bus on moto with one rule, `eventPattern` (a JSON text), whose target is a new SQS queue:
 * what reaches the queue is what the pattern let through.
 */
export async function busToQueue(eventPattern: string): Promise<BusToQueue> {
  const eb = motoEventBridge();
  const sqs = motoSqs();
  const busName = uniqueName("kb-bus");
  await eb.send(new CreateEventBusCommand({ Name: busName }));
  const queue = await createQueue(sqs, "kb-events");
  const rule = uniqueName("kb-rule");
  await eb.send(new PutRuleCommand({ Name: rule, EventBusName: busName, EventPattern: eventPattern }));
  await eb.send(
    new PutTargetsCommand({ Rule: rule, EventBusName: busName, Targets: [{ Id: "q", Arn: queue.arn }] }),
  );
  return { eb, sqs, busName, queue };
}

/**
 * Message bodies from the queue: long polls until `expected` arrived (bounded by the test's timeout,
 * not by a count of polls), then one short poll, so that anything beyond what was expected shows up too.
 */
export async function receiveAll(sqs: SQSClient, url: string, expected: number): Promise<string[]> {
  const bodies: string[] = [];
  const deadline = waitDeadline();
  while (bodies.length < expected && Date.now() <= deadline) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of out.Messages ?? []) bodies.push(m.Body ?? "");
  }
  const extra = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  for (const m of extra.Messages ?? []) bodies.push(m.Body ?? "");
  return bodies;
}

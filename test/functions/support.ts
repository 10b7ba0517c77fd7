// Set-up for the Lambda handler tests: the handlers run unchanged (middy, Powertools, SST's Resource),
// with the deployment link faked through env `SST_RESOURCE_KotsBackupDeployment` (toolchain.md §2.7),
// the AWS services on the moto peer (S3 destination + state, the event bus routed to SQS, Secrets Manager
// holding the cluster credentials) and the cluster a sandbox reached with its service-account token.
// SST's Resource proxy reads the env once per process: one deployment per test file (vitest forks).

import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { Sandbox } from "@kots-backup/sandbox";
import type { Context } from "aws-lambda";
import { vi } from "vitest";
import { busToQueue } from "../support/aws-peers.ts";
import {
  motoClientConfig,
  motoEndpoint,
  motoS3,
  uniqueName as unique,
  uniqueBucketName,
} from "../support/peers.ts";

export function lambdaContext(name = "kots-backup-test", remainingMs = 900_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "stream",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface BusEvent {
  source: string;
  "detail-type": string;
  detail: Record<string, unknown>;
  time: string;
}

export interface FakeDeployment {
  bucket: string;
  prefix: string;
  busName: string;
  secretArn?: string;
  config: Record<string, unknown>;
  /** Keys under the prefix, sorted. */
  objects(): Promise<string[]>;
  /** Bus events routed to SQS so far (consumed). */
  takeEvents(expected?: number): Promise<BusEvent[]>;
}

/**
 * Creates the stack's resources on moto, stores the sandbox's credentials in Secrets Manager, and fakes
 * the deployment link. Call before the first handler invocation of the file.
 */
export async function fakeDeployment(options: {
  sandbox?: Sandbox;
  schedules?: Array<Record<string, unknown>>;
  alerts?: Record<string, unknown>;
  env?: Record<string, string>;
}): Promise<FakeDeployment> {
  const endpoint = motoEndpoint();
  // AWS SDK clients the product builds without an endpoint (bus, secrets) reach moto through these.
  process.env["AWS_ENDPOINT_URL_EVENTBRIDGE"] = endpoint;
  process.env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = endpoint;
  process.env["AWS_ENDPOINT_URL_SNS"] = endpoint;
  for (const [k, v] of Object.entries(options.env ?? {})) process.env[k] = v;

  const bucket = uniqueBucketName("kb-fn");
  const prefix = "exports";
  const s3 = motoS3();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  const { sqs, busName, queue } = await busToQueue(JSON.stringify({ source: ["kots-backup"] }));

  let secretArn: string | undefined;
  const cluster: Record<string, unknown> = { name: "test" };
  if (options.sandbox) {
    const sm = new SecretsManagerClient(motoClientConfig());
    const created = await sm.send(
      new CreateSecretCommand({
        Name: unique("kb-cluster"),
        SecretString: JSON.stringify({
          server: options.sandbox.apiUrl,
          caData: Buffer.from(options.sandbox.caPem).toString("base64"),
          token: options.sandbox.serviceAccountToken,
        }),
      }),
    );
    secretArn = created.ARN;
    cluster["credentials"] = secretArn;
  }
  const config: Record<string, unknown> = {
    cluster,
    schedules: options.schedules ?? [{ name: "nightly", cron: "0 2 * * *" }],
    export: { destination: `s3://${bucket}/${prefix}`, endpoint, forcePathStyle: true, scope: "manifests" },
    ...(options.alerts ? { alerts: options.alerts } : {}),
  };
  process.env["SST_RESOURCE_KotsBackupDeployment"] = JSON.stringify({
    type: "sst.sst.Linkable",
    config,
    bucket,
    prefix,
    busName,
  });

  const queueUrl = queue.url;
  return {
    bucket,
    prefix,
    busName,
    ...(secretArn ? { secretArn } : {}),
    config,
    async objects() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
        );
        for (const o of out.Contents ?? []) keys.push((o.Key ?? "").slice(prefix.length + 1));
        token = out.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    async takeEvents(expected = 0) {
      const events: BusEvent[] = [];
      for (let i = 0; i < 10; i++) {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: events.length >= expected ? 0 : 1,
          }),
        );
        for (const m of out.Messages ?? []) {
          events.push(JSON.parse(m.Body ?? "{}") as BusEvent);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
        if ((out.Messages ?? []).length === 0 && events.length >= expected) break;
      }
      return events;
    },
  };
}

/** Records what the handlers print (Powertools JSON lines on stdout) while still passing it through. */
export function recordOutput(): { lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    vi.spyOn(stream, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      return original(chunk, ...rest);
    }) as typeof stream.write);
  }
  const text = () => chunks.join("");
  return {
    text,
    lines: () =>
      text()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
  };
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

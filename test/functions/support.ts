// Set-up for the Lambda handler tests: the handlers run unchanged (middy, Powertools, SST's Resource),
// with the deployment link faked through env `SST_RESOURCE_KotsBackupDeployment` (toolchain.md §2.7)
// and the cluster a sandbox reached with its service-account token. Two deployments with one interface:
// - `localDeployment`: no AWS and no python: the destination a local folder, the cluster credentials in
//   an environment variable (`env:` reference), the bus on a local EventBridge
//   (test/support/local-eventbridge.ts). The handler behaviour tests run on it.
// - `fakeDeployment`: the AWS services on the moto peer (S3 destination + state, the event bus routed to
//   SQS by a `source: kots-backup` rule, Secrets Manager holding the cluster credentials): the AWS layer
//   (aws.test.ts, bundled.test.ts, and tests elsewhere that need S3).
// SST's Resource proxy reads the env once per process: one deployment per test file (vitest forks).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import type { Sandbox } from "@kots-backup/sandbox";
import type { Context } from "aws-lambda";
import { vi } from "vitest";
import { busToQueue } from "../support/aws-peers.ts";
import { startLocalEventBridge } from "../support/local-eventbridge.ts";
import {
  motoClientConfig,
  motoEndpoint,
  motoS3,
  uniqueName as unique,
  uniqueBucketName,
} from "../support/peers.ts";
import { waitDeadline } from "../support/wait.ts";

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

/** What the handler tests read back, whichever deployment they run on. */
export interface HandlerDeployment {
  busName: string;
  config: Record<string, unknown>;
  /** Keys on the destination (under the prefix), sorted. */
  objects(): Promise<string[]>;
  /** Bus events delivered so far (consumed). */
  takeEvents(expected?: number): Promise<BusEvent[]>;
  /** Stops what the deployment started in this process (safe to call twice). */
  close(): Promise<void>;
}

export interface FakeDeployment extends HandlerDeployment {
  bucket: string;
  prefix: string;
  secretArn?: string;
}

export interface LocalDeployment extends HandlerDeployment {
  /** The destination folder (`export.destination` is `file://<folder>`). */
  folder: string;
}

export interface DeploymentOptions {
  sandbox?: Sandbox;
  schedules?: Array<Record<string, unknown>>;
  alerts?: Record<string, unknown>;
  /** External recovery points (config `external`). */
  external?: Array<Record<string, unknown>>;
  /** The restore drill (config `drill`). */
  drill?: Record<string, unknown>;
  env?: Record<string, string>;
}

/** The secret a deployment keeps for the cluster: `{server, caData, token}` of the sandbox. */
function clusterCredentials(sandbox: Sandbox): string {
  return JSON.stringify({
    server: sandbox.apiUrl,
    caData: Buffer.from(sandbox.caPem).toString("base64"),
    token: sandbox.serviceAccountToken,
  });
}

/** The deployed config document, and the link SST would give the functions (faked through the env). */
function linkDeployment(
  options: DeploymentOptions,
  cluster: Record<string, unknown>,
  exportConfig: Record<string, unknown>,
  link: { bucket: string; prefix: string; busName: string },
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    cluster,
    schedules: options.schedules ?? [{ name: "nightly", cron: "0 2 * * *" }],
    export: exportConfig,
    ...(options.alerts ? { alerts: options.alerts } : {}),
    ...(options.external ? { external: options.external } : {}),
    ...(options.drill ? { drill: options.drill } : {}),
  };
  process.env["SST_RESOURCE_KotsBackupDeployment"] = JSON.stringify({
    type: "sst.sst.Linkable",
    config,
    ...link,
  });
  return config;
}

/** The environment variable `localDeployment`'s `env:` reference names. */
const CLUSTER_CREDENTIALS_ENV = "KB_TEST_CLUSTER_CREDENTIALS";

/**
 * The deployment without AWS or python: the destination a new local folder, the sandbox's credentials in
 * an environment variable (`cluster.credentials: env:…`), the bus on a local EventBridge. Call before
 * the first handler invocation of the file, and `close()` after its last.
 */
export async function localDeployment(options: DeploymentOptions): Promise<LocalDeployment> {
  const bus = await startLocalEventBridge();
  // Every AWS client the product builds reaches the local peer, which serves PutEvents only: a call to
  // any other AWS service fails at once, naming the operation, instead of leaving for the Internet.
  process.env["AWS_ENDPOINT_URL"] = bus.endpoint;
  process.env["AWS_ENDPOINT_URL_EVENTBRIDGE"] = bus.endpoint;
  for (const [k, v] of Object.entries(options.env ?? {})) process.env[k] = v;

  const busName = unique("kb-bus");
  bus.createBus(busName);
  const folder = mkdtempSync(join(tmpdir(), "kb-fn-"));
  const cluster: Record<string, unknown> = { name: "test" };
  if (options.sandbox) {
    process.env[CLUSTER_CREDENTIALS_ENV] = clusterCredentials(options.sandbox);
    cluster["credentials"] = `env:${CLUSTER_CREDENTIALS_ENV}`;
  }
  // No bucket: the link's bucket and prefix are what infra sets for an S3 destination; the functions
  // read the destination from the config only.
  const config = linkDeployment(
    options,
    cluster,
    { destination: `file://${folder}`, scope: "manifests" },
    { bucket: "", prefix: "", busName },
  );
  const store = new LocalFolderStore(folder);
  return {
    folder,
    busName,
    config,
    async objects() {
      const keys: string[] = [];
      for await (const o of store.list("")) keys.push(o.key);
      return keys.sort();
    },
    takeEvents: (expected) => bus.take(busName, expected),
    close: () => bus.close(),
  };
}

/**
 * Creates the stack's resources on moto, stores the sandbox's credentials in Secrets Manager, and fakes
 * the deployment link. Call before the first handler invocation of the file.
 */
export async function fakeDeployment(options: DeploymentOptions): Promise<FakeDeployment> {
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
        SecretString: clusterCredentials(options.sandbox),
      }),
    );
    secretArn = created.ARN;
    cluster["credentials"] = secretArn;
  }
  const config = linkDeployment(
    options,
    cluster,
    { destination: `s3://${bucket}/${prefix}`, endpoint, forcePathStyle: true, scope: "manifests" },
    { bucket, prefix, busName },
  );

  const queueUrl = queue.url;
  return {
    bucket,
    prefix,
    busName,
    ...(secretArn ? { secretArn } : {}),
    config,
    close: async () => {}, // moto outlives the file: nothing to stop here
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
      // Long polls until `expected` events arrived (bounded by the test's timeout, not a count of
      // polls), then short polls until the queue is empty, so that anything beyond shows up too.
      const events: BusEvent[] = [];
      const deadline = waitDeadline();
      for (;;) {
        const waiting = events.length < expected;
        if (waiting && Date.now() > deadline) break; // the caller's assertion says what was missing
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: waiting ? 1 : 0,
          }),
        );
        for (const m of out.Messages ?? []) {
          events.push(JSON.parse(m.Body ?? "{}") as BusEvent);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
        if (!waiting && (out.Messages ?? []).length === 0) break;
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

export { pause } from "../support/wait.ts";

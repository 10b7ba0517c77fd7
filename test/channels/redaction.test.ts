// Peers that echo the credentials they were sent: the routing key, the webhook URL's path and query, an
// Authorization header, as-is, upper-/lower-case, percent-encoded, JSON-quoted, base64, base64url, hex,
// or after 290 characters of padding (where an error message's quote of a body used to be cut before
// redaction). Not one run of 8 characters of any secret, in any of those forms, may reach a thrown
// error, a log line (the CLI's and daemon's output, the Lambda logger), stderr, or the destination.
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Channel,
  type DeliverLogLine,
  deliver,
  pagerDutyChannel,
  slackChannel,
  webhookChannel,
} from "@kots-backup/adapters/alerts/index";
import { forgetSecrets, rememberSecrets } from "@kots-backup/adapters/runtime/known-secrets";
import { deliveryPort } from "@kots-backup/adapters/runtime/verify-wiring";
import { Secret } from "@kots-backup/adapters/secrets/secret";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { createOutput } from "@kots-backup/cli/output";
import { EnvironmentError } from "@kots-backup/core";
import { runVerify } from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { lambdaHandler } from "@kots-backup/functions/lib/handler";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedOutput } from "../support/capture.ts";
import { at, harness, schedule } from "../verify/support.ts";
import { checkDown } from "./fixtures.ts";
import { ECHO_FORMS, type EchoForm, type EchoReceiver, startEcho } from "./receivers.ts";

// Random-looking, so that no run of one is an ordinary word of the messages around it.
const ROUTING_KEY = "Ek7q0Rz3Wm9Xv2Lp5Tn8Yb4Hc6Jd1Fg0";
const SLACK_TOKEN = "T0QX7K2M9/B0ZR4W8N5/hV3pL9qT2xK7mR4nW8zB6cJ1";
const HOOK_PATH_TOKEN = "hP7xQ2mK9vR4tL8wZ3nB6cY1";
const HOOK_QUERY_TOKEN = "qT5kW9xM2rZ7pL4v";
const HEADER_TOKEN = "hD8mQ3xK7vR2tW9zL5nB";
const SECRETS = { ROUTING_KEY, SLACK_TOKEN, HOOK_PATH_TOKEN, HOOK_QUERY_TOKEN, HEADER_TOKEN };

/** A run this long of a secret, in any form, counts as a leak. */
const RUN = 8;

/** Every form a secret can take in text (base64 at each of the 3 byte alignments it can sit at). */
function forms(secret: string): string[] {
  const out = [
    secret,
    secret.toUpperCase(),
    secret.toLowerCase(),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString("hex"),
    Buffer.from(secret).toString("hex").toUpperCase(),
  ];
  for (const pad of [0, 1, 2]) {
    const bytes = Buffer.concat([Buffer.alloc(pad), Buffer.from(secret)]);
    for (const encoding of ["base64", "base64url"] as const) {
      // Characters that depend on neighbouring bytes (the first and last group) are not the secret's.
      out.push(bytes.toString(encoding).slice(pad === 0 ? 0 : 4, -4));
    }
  }
  return out;
}

/** Each run of RUN characters of a secret found in `text`, as `NAME: run`. */
function leaks(text: string): string[] {
  const found = new Set<string>();
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of forms(secret)) {
      for (let i = 0; i + RUN <= form.length; i++) {
        const run = form.slice(i, i + RUN);
        if (text.includes(run)) found.add(`${name}: ${run}`);
      }
    }
  }
  return [...found];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

let pd: EchoReceiver;
let slack: EchoReceiver;
let hook: EchoReceiver;
let channels: Channel[];

beforeAll(async () => {
  [pd, slack, hook] = await Promise.all([
    startEcho(400),
    startEcho(429, { "retry-after": "3600" }),
    startEcho(400),
  ]);
  pd.lead = "body"; // the routing key is in the body; the webhook URL's secrets are in the request line
  channels = [
    pagerDutyChannel({ routingKey: new Secret(ROUTING_KEY, "env:KB_PD"), eventsUrl: `${pd.url}/v2/enqueue` }),
    slackChannel({ webhookUrl: new Secret(`${slack.url}/services/${SLACK_TOKEN}`, "env:KB_SLACK") }),
    webhookChannel({
      url: new Secret(`${hook.url}/hooks/${HOOK_PATH_TOKEN}?token=${HOOK_QUERY_TOKEN}&team=platform`),
      headers: { Authorization: new Secret(`Bearer ${HEADER_TOKEN}`, "env:KB_HOOK_AUTH") },
    }),
  ];
});
afterAll(async () => {
  forgetSecrets();
  await Promise.all([pd.close(), slack.close(), hook.close()]);
});

const setForm = (form: EchoForm) => {
  for (const receiver of [pd, slack, hook]) receiver.form = form;
};
const errorText = (error: unknown) => {
  const e = error as Error & { fix?: string; toJSON?: () => unknown };
  return [e.message, e.stack, e.fix, JSON.stringify(e.toJSON?.() ?? {})].join("\n");
};

describe("a peer echoing the credentials in its error body", () => {
  it.each(Object.keys(ECHO_FORMS) as EchoForm[])(
    "leaves nothing of them in the thrown error (%s)",
    async (form) => {
      setForm(form);
      for (const channel of channels) {
        const error = await channel.send(checkDown).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, channel.name).toMatchObject({ name: "DeliveryError" });
        expect(leaks(errorText(error)), channel.name).toEqual([]);
        // The redacted body is still quoted: the peer's own words stay readable.
        expect((error as Error).message).toContain("request refused");
      }
    },
  );

  it.each(Object.keys(ECHO_FORMS) as EchoForm[])(
    "leaves nothing of them in deliver()'s results and log lines (%s)",
    async (form) => {
      setForm(form);
      const lines: DeliverLogLine[] = [];
      const results = await deliver(channels, checkDown, {
        sleep: async () => {},
        log: (line) => lines.push(line),
      });
      expect(results.map((r) => r.ok)).toEqual([false, false, false]);
      expect(leaks(JSON.stringify({ results, lines }))).toEqual([]);
    },
  );

  it("leaves nothing in the CLI/daemon output, nor in any object verify writes to the destination", async () => {
    setForm("long");
    const nightly = schedule({ name: "nightly", cron: "0 2 * * *" });
    const stored: string[] = [];
    // The CLI's verify and the daemon log through this output, on stderr, as text or JSON lines.
    for (const json of [false, true]) {
      const dest = mkdtempSync(join(tmpdir(), "kb-redaction-"));
      const h = harness(new LocalFolderStore(dest));
      const out = createOutput(json, { stdout: process.stdout, stderr: process.stderr });
      const deps = (now: Date) =>
        h.deps(now, {
          deliver: deliveryPort(channels, (level, message) => out.log(level, `alert ${message}`)),
          channels: channels.map((c) => c.name),
          logError: (message, fields) => out.log("error", message, fields),
          log: (level, message, fields) => out.log(level, message, fields),
        });
      await runVerify([nightly], deps(at("2026-03-01T12:00:00Z")));
      await runVerify([nightly], deps(at("2026-03-02T03:00:00Z")));
      const entry = (await checkRecordStore(h.destination).read("nightly"))?.value.outbox?.[0];
      expect(entry?.pending).toEqual(["pagerduty", "slack", "webhook"]);
      // Only a fixed class and the status are kept: never the peer's words.
      expect(entry?.lastError).toBe(
        "pagerduty: rejected (HTTP 400); slack: throttled (HTTP 429); webhook: rejected (HTTP 400)",
      );
      stored.push(...filesUnder(dest).map((f) => readFileSync(f, "utf8")));
    }
    expect(stored.join("\n")).toContain("outbox");
    expect(stored.join("\n")).not.toContain("request refused");
    expect(leaks(stored.join("\n"))).toEqual([]);
  });

  it("leaves nothing in the Lambda's log lines or in the error it returns", async () => {
    setForm("base64");
    rememberSecrets(...channels.flatMap((c) => c.secrets ?? []));
    const handler = lambdaHandler(async (_event: unknown, { logger }) => {
      const results = await deliver(channels, checkDown, {
        sleep: async () => {},
        log: (line) => logger.warn(line.message, { channel: line.channel }),
      });
      logger.error("could not deliver", { results });
      const thrown = await channels[0]!.send(checkDown).catch((e: unknown) => e);
      logger.error("first channel", { error: thrown as Error });
      throw thrown;
    });
    const error = await handler({}, lambdaContext()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "DeliveryError" });
    expect(leaks(errorText(error))).toEqual([]);

    // A product error raised elsewhere that quotes a peer: its message, fix and stack are scrubbed.
    const echoed = Buffer.from(`{"routing_key":"${ROUTING_KEY}"}`).toString("base64");
    const quoting = lambdaHandler(async () => {
      throw new EnvironmentError("peer-said", `the peer answered ${echoed}`, {
        fix: `compare with ${SLACK_TOKEN}`,
      });
    });
    const product = await quoting({}, lambdaContext()).catch((e: unknown) => e);
    expect(product).toBeInstanceOf(EnvironmentError);
    expect(product).toMatchObject({
      code: "peer-said",
      message: expect.stringContaining("the peer answered"),
    });
    expect(leaks(errorText(product))).toEqual([]);
  });

  it("and nothing of them reached this run's captured stdout and stderr", () => {
    const output = capturedOutput();
    expect(output).toContain("request refused");
    expect(leaks(output)).toEqual([]);
  });
});

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "kots-backup-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:kots-backup-test",
    memoryLimitInMB: "512",
    awsRequestId: "req-1",
    logGroupName: "/aws/lambda/kots-backup-test",
    logStreamName: "stream",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

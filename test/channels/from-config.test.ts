// channelsFromConfig end to end (references resolved from env, a file and Secrets Manager; AWS
// channels on moto; HTTP channels on local receivers), and the guarantee that routing keys,
// webhook URLs and tokens never show up in errors or log output.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format, inspect } from "node:util";
import { CreateEventBusCommand, EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { InputError } from "@kots-backup/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { deliver } from "../../packages/adapters/src/alerts/channel.ts";
import { channelsFromConfig } from "../../packages/adapters/src/alerts/from-config.ts";
import { clearSecretCache } from "../../packages/adapters/src/secrets/resolve.ts";
import {
  AWS_TEST_CREDENTIALS,
  describeWithMoto,
  motoClientConfig,
  motoEndpoint,
  uniqueName as unique,
} from "../support/peers.ts";
import { backupFailed, checkDown, checkUp } from "./fixtures.ts";
import {
  type PagerDutyReceiver,
  type Receiver,
  startPagerDuty,
  startRecorder,
  startSlack,
} from "./receivers.ts";

const ROUTING_KEY = "PDKEYsecret0123456789abcdefGHIJK";
const noSleep = async () => {};

describeWithMoto("channelsFromConfig", () => {
  let pd: PagerDutyReceiver;
  let slack: Receiver;
  let hook: Receiver;
  let tokenFile: string;
  let routingKeyArn: string;
  let busName: string;
  let topicArn: string;

  beforeAll(async () => {
    [pd, slack, hook] = await Promise.all([startPagerDuty(), startSlack(), startRecorder(202)]);
    tokenFile = join(mkdtempSync(join(tmpdir(), "kb-hook-")), "token");
    writeFileSync(tokenFile, "Bearer hook-token-0000111122223333\n");
    const sm = new SecretsManagerClient(motoClientConfig());
    const secret = await sm.send(
      new CreateSecretCommand({
        Name: unique("kb-alerts"),
        SecretString: JSON.stringify({ routingKey: ROUTING_KEY }),
      }),
    );
    routingKeyArn = `${secret.ARN}#routingKey`;
    busName = unique("kb-bus");
    await new EventBridgeClient(motoClientConfig()).send(new CreateEventBusCommand({ Name: busName }));
    topicArn = (
      await new SNSClient(motoClientConfig()).send(new CreateTopicCommand({ Name: unique("kb-topic") }))
    ).TopicArn!;
  });
  afterAll(async () => {
    clearSecretCache();
    await Promise.all([pd, slack, hook].map((r) => r.close()));
  });

  const options = (env: Record<string, string>) => ({
    secrets: { env, secretsManager: () => new SecretsManagerClient(motoClientConfig()) },
    aws: { endpoint: motoEndpoint(), region: "us-east-1", credentials: AWS_TEST_CREDENTIALS },
  });

  it("builds every channel from references and delivers a Check Down through all of them", async () => {
    const slackUrl = `${slack.url}/services/T0/B0/slacksecret`;
    const hookUrl = `${hook.url}/kb?sig=hooksecret`;
    const channels = await channelsFromConfig(
      {
        eventBridge: { busName },
        sns: { topicArn },
        pagerDuty: { routingKey: routingKeyArn, eventsUrl: pd.eventsUrl },
        slack: { webhookUrl: "env:KB_SLACK_URL" },
        webhook: {
          url: "env:KB_HOOK_URL",
          headers: {
            "x-source": "kb",
            authorization: `file:${tokenFile}`,
            "x-token": { secret: "env:KB_HOOK_TOKEN" },
          },
        },
      },
      options({ KB_SLACK_URL: slackUrl, KB_HOOK_URL: hookUrl, KB_HOOK_TOKEN: "tok-from-env-1234" }),
    );
    expect(channels.map((c) => c.name)).toEqual(["eventbridge", "sns", "pagerduty", "slack", "webhook"]);
    const results = await deliver(channels, checkDown, { sleep: noSleep });
    expect(results.map((r) => `${r.channel}:${r.ok}:${r.attempts}`)).toEqual([
      "eventbridge:true:1",
      "sns:true:1",
      "pagerduty:true:1",
      "slack:true:1",
      "webhook:true:1",
    ]);
    expect(pd.alerts.get(checkDown.detail.dedupKey)?.status).toBe("triggered");
    expect(slack.requests.at(-1)?.path).toBe("/services/T0/B0/slacksecret");
    expect(hook.requests.at(-1)?.headers.authorization).toBe("Bearer hook-token-0000111122223333");
    expect(hook.requests.at(-1)?.headers["x-source"]).toBe("kb");
    expect(hook.requests.at(-1)?.headers["x-token"]).toBe("tok-from-env-1234");
  });

  it("returns no channels without an alerts section, and names the field of a bad reference", async () => {
    expect(await channelsFromConfig(undefined)).toEqual([]);
    const error = await channelsFromConfig({
      slack: { webhookUrl: "https://hooks.slack.com/services/PLAIN/VALUE" },
    }).then(
      () => undefined,
      (e: unknown) => e as InputError,
    );
    expect(error).toBeInstanceOf(InputError);
    expect(error?.field).toBe("alerts.slack.webhookUrl");
    expect(error?.message).not.toContain("PLAIN/VALUE");
    await expect(channelsFromConfig({ sns: { topicArn: "my-topic" } })).rejects.toThrow(
      /alerts\.sns\.topicArn/,
    );
  });
});

describe("secrets never reach errors or logs", () => {
  const SLACK_URL_PATH = "/services/T0SECRET/B0SECRET/slackwebhooksecretpart";
  const HOOK_TOKEN = "Bearer hooktoken-zyxw-9876";
  let pd: PagerDutyReceiver;
  let slack: Receiver;
  let hang: Receiver;

  beforeAll(async () => {
    [pd, slack, hang] = await Promise.all([startPagerDuty(), startSlack(), startRecorder()]);
  });
  afterAll(() => Promise.all([pd, slack, hang].map((r) => r.close())));

  it("keeps the routing key, webhook URLs and tokens out of every message, however things fail", async () => {
    const slackUrl = `${slack.url}${SLACK_URL_PATH}`;
    const closed = await startRecorder();
    const refusedUrl = `${closed.url}/refused/hooksecretpath`;
    await closed.close();
    const hangUrl = `${hang.url}/hang/hooksecretpath2`;
    const secretsToHide = [
      ROUTING_KEY,
      slackUrl,
      SLACK_URL_PATH,
      refusedUrl,
      hangUrl,
      "hooksecretpath",
      HOOK_TOKEN,
      "hooktoken-zyxw",
    ];

    // Capture everything written to stdout/stderr/console while things go wrong.
    const captured: string[] = [];
    const originals = {
      out: process.stdout.write.bind(process.stdout),
      err: process.stderr.write.bind(process.stderr),
    };
    const capture = (chunk: unknown) => {
      captured.push(String(chunk));
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    // vitest routes console.* around process.stdout, so capture those as console would format them.
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
      vi
        .spyOn(console, method)
        .mockImplementation((...args: unknown[]) => void captured.push(`${format(...args)}\n`)),
    );
    try {
      const env = {
        KB_PD: ROUTING_KEY,
        KB_SLACK: slackUrl,
        KB_REFUSED: refusedUrl,
        KB_HANG: hangUrl,
        KB_TOKEN: HOOK_TOKEN,
        KB_BAD_TOKEN: "Bearer hooktoken-zyxw\nInjected: 1",
        KB_NOT_A_URL: `ftp:${ROUTING_KEY}`,
      };
      const thrown: unknown[] = [];
      const build = async (config: Parameters<typeof channelsFromConfig>[0]) => {
        try {
          return await channelsFromConfig(config, { secrets: { env } });
        } catch (error) {
          thrown.push(error);
          return [];
        }
      };
      const channels = [
        ...(await build({ pagerDuty: { routingKey: "env:KB_PD", eventsUrl: pd.eventsUrl } })),
        ...(await build({ slack: { webhookUrl: "env:KB_SLACK" } })),
        ...(await build({
          webhook: { url: "env:KB_REFUSED", headers: { authorization: { secret: "env:KB_TOKEN" } } },
        })),
      ];
      const hanging = await build({ webhook: { url: "env:KB_HANG" } });
      const badHeader = await build({
        webhook: { url: "env:KB_HANG", headers: { authorization: { secret: "env:KB_BAD_TOKEN" } } },
      });
      await build({ webhook: { url: "env:KB_NOT_A_URL" } }); // rejected: not an http(s) URL
      await build({ pagerDuty: { routingKey: "env:KB_MISSING" } }); // rejected: unset variable
      await build({ slack: { webhookUrl: slackUrl } }); // rejected: a plain value, not a reference
      expect(thrown).toHaveLength(3);

      // Peers that echo the secret back in their error bodies.
      pd.script({ status: 400, body: JSON.stringify({ status: "invalid event", routing_key: ROUTING_KEY }) });
      slack.script(
        { status: 500, body: `internal error for ${JSON.stringify(slackUrl)}` },
        { status: 500, body: `internal error for ${encodeURIComponent(slackUrl)}` },
        { status: 404, body: `no_service ${slackUrl}` },
      );
      hang.script("hang");

      const log = (line: unknown) => console.warn(line);
      const results = [
        ...(await deliver(channels, checkDown, { sleep: noSleep, log })),
        ...(await deliver(hanging, backupFailed, {
          sleep: noSleep,
          log,
          policy: { attemptTimeoutMs: 150, maxAttempts: 1 },
        })),
        ...(await deliver(badHeader, checkUp, { sleep: noSleep, log })),
      ];
      expect(results.map((r) => `${r.channel}:${r.ok}`)).toEqual([
        "pagerduty:false",
        "slack:false",
        "webhook:false",
        "webhook:false",
        "webhook:false",
      ]);
      for (const result of results) console.log(result);
      for (const error of thrown) {
        console.error(error);
        console.error(inspect(error, { depth: 10, showHidden: true }));
        console.error(JSON.stringify(error));
      }
      for (const channel of [...channels, ...hanging, ...badHeader]) console.log(channel);

      const text = captured.join("");
      // The failures were reported with their causes, by channel name...
      expect(text).toContain("pagerduty: HTTP 400");
      expect(text).toContain("[redacted]");
      expect(text).toContain("slack: HTTP 500");
      expect(text).toContain("slack: HTTP 404");
      expect(text).toContain("ECONNREFUSED");
      expect(text).toMatch(/timed out/);
      expect(text).toContain("env:KB_MISSING");
      expect(text).toContain("alerts.slack.webhookUrl");
      // ...and no secret appears anywhere.
      for (const secret of secretsToHide) expect(text).not.toContain(secret);
      expect(text).not.toContain(encodeURIComponent(slackUrl));
    } finally {
      for (const spy of spies) spy.mockRestore();
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    }
  });
});

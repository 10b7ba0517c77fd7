import { DetailType, InputError } from "@kots-backup/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliver } from "../../packages/adapters/src/alerts/channel.ts";
import { SLACK_COLORS, slackChannel, slackMessage } from "../../packages/adapters/src/alerts/slack.ts";
import { webhookChannel } from "../../packages/adapters/src/alerts/webhook.ts";
import { Secret } from "../../packages/adapters/src/secrets/secret.ts";
import { backupFailed, checkDown, checkUp, event } from "./fixtures.ts";
import { type Receiver, startRecorder, startSlack } from "./receivers.ts";

const noSleep = async () => {};

describe("Slack channel against a local incoming webhook", () => {
  let slack: Receiver;
  beforeAll(async () => {
    slack = await startSlack();
  });
  afterAll(() => slack.close());
  const channel = () =>
    slackChannel({
      webhookUrl: new Secret(`${slack.url}/services/T0/B0/secretpart`, "env:SLACK_WEBHOOK_URL"),
    });

  it("posts a red header + section for Check Down and a green one for Check Up, with a plain fallback", async () => {
    const results = [
      ...(await deliver([channel()], checkDown, { sleep: noSleep })),
      ...(await deliver([channel()], checkUp, { sleep: noSleep })),
    ];
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    const [down, up] = slack.requests.slice(-2).map((r) => r.body as ReturnType<typeof slackMessage>);
    expect(slack.requests.at(-1)?.path).toBe("/services/T0/B0/secretpart");
    expect(down?.text).toContain("is DOWN");
    expect(down?.attachments[0]?.color).toBe(SLACK_COLORS.bad);
    expect(down?.attachments[0]?.blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "DOWN prod-east/nightly: missed, export-missing" },
    });
    const section = down?.attachments[0]?.blocks[1];
    expect(section?.type).toBe("section");
    expect(section?.text.text).toContain("*Next step*");
    expect(section?.text.text).toContain("Last good backup: instance-abc12");
    expect(up?.attachments[0]?.color).toBe(SLACK_COLORS.good);
  });

  it("escapes mrkdwn control characters and keeps the section within 3,000 characters", async () => {
    const noisy = event(DetailType.backupFailed, { backup: "b1", error: `<!channel> & ${"x".repeat(5000)}` });
    const message = slackMessage(noisy);
    const text = message.attachments[0]?.blocks[1]?.text.text ?? "";
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).toContain("&lt;!channel&gt; &amp;");
    const [result] = await deliver([channel()], noisy, { sleep: noSleep });
    expect(result?.ok).toBe(true);
  });

  it("refuses a webhook URL that is not a URL, naming the reference only", () => {
    const make = () => slackChannel({ webhookUrl: new Secret("not a url but a secret", "file:/run/slack") });
    expect(make).toThrow(InputError);
    expect(make).toThrow(/file:\/run\/slack/);
    expect(make).not.toThrow(/not a url but a secret/);
  });
});

describe("webhook channel", () => {
  let hook: Receiver;
  beforeAll(async () => {
    hook = await startRecorder(204);
  });
  afterAll(() => hook.close());

  it("POSTs { detailType, detail, time } as JSON with its static and secret headers", async () => {
    const channel = webhookChannel({
      url: new Secret(`${hook.url}/hooks/kb?token=abc123def`, "env:HOOK_URL"),
      headers: { "x-team": "storage", authorization: new Secret("Bearer tok-987654", "env:HOOK_TOKEN") },
    });
    const [result] = await deliver([channel], backupFailed, { sleep: noSleep });
    expect(result).toEqual({ channel: "webhook", ok: true, attempts: 1 });
    const request = hook.requests.at(-1)!;
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/hooks/kb?token=abc123def");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["x-team"]).toBe("storage");
    expect(request.headers.authorization).toBe("Bearer tok-987654");
    expect(request.body).toEqual({
      detailType: "Backup Failed",
      detail: backupFailed.detail,
      time: backupFailed.time,
    });
  });

  it("sends only the detail types it is configured for", async () => {
    const channel = webhookChannel({
      url: new Secret(`${hook.url}/all`),
      detailTypes: [DetailType.backupCompleted],
    });
    const before = hook.requests.length;
    const results = [
      ...(await deliver([channel], checkDown, { sleep: noSleep })),
      ...(await deliver([channel], event(DetailType.backupCompleted, { backup: "b" }), { sleep: noSleep })),
    ];
    expect(results.map((r) => [r.skipped ?? false, r.attempts])).toEqual([
      [true, 0],
      [false, 1],
    ]);
    expect(hook.requests.length).toBe(before + 1);
  });
});

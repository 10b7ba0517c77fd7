import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { formatPath, parseConfig } from "./config.ts";
import { renderConfigJsonSchema } from "./config-schema-file.ts";
import { InputError } from "./errors.ts";

const root = join(import.meta.dirname, "..", "..", "..");

function errorOf(input: unknown): InputError {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

const schedule = (extra: Record<string, unknown> = {}) => ({ name: "nightly", cron: "30 2 * * *", ...extra });

describe("parseConfig", () => {
  it("fills every default from an empty document", () => {
    const config = parseConfig({});
    expect(config.cluster).toEqual({ name: "kots", insecureSkipTlsVerify: false });
    expect(config.export).toMatchObject({ destination: "./kots-backup-data", scope: "auto", keepLast: 3 });
    expect(config.daemon.verifyInterval).toBe(60_000);
    // The metrics server listens on loopback unless the config says otherwise.
    expect(config.daemon.metricsHost).toBe("127.0.0.1");
    expect(config.schedules).toEqual([]);
  });

  it("treats a null document (an empty YAML file) as empty", () => {
    expect(parseConfig(null).cluster.name).toBe("kots");
  });

  it("fills schedule defaults and parses durations to milliseconds", () => {
    const [s] = parseConfig({ schedules: [schedule({ grace: "1h30m" })] }).schedules;
    expect(s).toEqual({
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "UTC",
      type: "full",
      grace: 5_400_000,
      maxDuration: 4 * 3_600_000,
      export: true,
      exportGrace: 2 * 3_600_000,
      paused: false,
    });
  });

  it.each([
    [{ clusterr: {} }, "clusterr", "unknown key"],
    [{ cluster: { name: "x", nmae: "y" } }, "cluster.nmae", "unknown key"],
    [{ schedules: [schedule({ foo: 1 })] }, "schedules[0].foo", "unknown key"],
    [{ schedules: [schedule({ cron: "30 2 * *" })] }, "schedules[0].cron", "expected 5 fields"],
    [{ schedules: [schedule({ cron: "0 0 1 * MON" })] }, "schedules[0].cron", "day-of-month and day-of-week"],
    [{ schedules: [schedule({ cron: "0 0 L * *" })] }, "schedules[0].cron", "not allowed"],
    [{ schedules: [schedule({ cron: "0 0 31 2 *" })] }, "schedules[0].cron", "never fires"],
    [{ schedules: [schedule({ timezone: "Europe/Pariss" })] }, "schedules[0].timezone", "IANA"],
    [{ schedules: [schedule({ grace: "1 hour" })] }, "schedules[0].grace", "not a duration"],
    [{ schedules: [schedule({ name: "Nightly" })] }, "schedules[0].name", "a-z"],
    [{ schedules: [schedule(), schedule()] }, "schedules[1].name", "already used"],
    [{ schedules: [schedule({ type: "partial" })] }, "schedules[0].app", "required"],
    [{ schedules: [schedule({ app: "my-app" })] }, "schedules[0].app", "only allowed"],
    [{ schedules: [{ cron: "0 0 * * *" }] }, "schedules[0].name", "required"],
    [{ export: { destination: "gs://b/p" } }, "export.destination", "s3://"],
    [{ export: { destination: "/var/backups" } }, "export.destination", "file:///var/backups"],
    [{ export: { scope: "everything" } }, "export.scope", ""],
    [{ alerts: { pagerDuty: { routingKey: "R0UT1NGKEY" } } }, "alerts.pagerDuty.routingKey", "plain value"],
    [
      { alerts: { slack: { webhookUrl: "https://hooks.slack.com/services/x" } } },
      "alerts.slack.webhookUrl",
      "plain value",
    ],
    [
      { alerts: { webhook: { url: "env:HOOK", headers: { Authorization: "Bearer x" } } } },
      "alerts.webhook.headers.Authorization",
      "credential",
    ],
    [{ daemon: { metricsPort: 70000 } }, "daemon.metricsPort", ""],
    [{ daemon: { metricsHost: "all interfaces" } }, "daemon.metricsHost", "IP address or a host name"],
  ])("rejects %j naming %s", (input, field, text) => {
    const error = errorOf(input);
    expect(error.code).toBe("invalid-config");
    expect(error.exitCode).toBe(2);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    expect(error.message).toContain(text);
    expect(error.fix).toBeTruthy();
  });
});

describe("parseConfig: edges", () => {
  const MB = "a".repeat(1_000_000);
  it.each([
    // Durations that would make a Date invalid (beyond ±8.64e15 ms) or are surely a typo.
    [{ schedules: [schedule({ grace: "999999999999h" })] }, "schedules[0].grace", "maximum of 366d"],
    [{ schedules: [schedule({ maxDuration: "367d" })] }, "schedules[0].maxDuration", "maximum of 366d"],
    [{ schedules: [schedule({ exportGrace: `${"9".repeat(40)}s` })] }, "schedules[0].exportGrace", "366d"],
    [{ daemon: { verifyInterval: "400d" } }, "daemon.verifyInterval", "maximum of 366d"],
    [{ export: { lifecycle: { retention: "99999999d" } } }, "export.lifecycle.retention", "36500d"],
    [{ schedules: [schedule({ grace: MB })] }, "schedules[0].grace", "at most 64 characters"],
    // Time zones: offsets and non-canonical spellings.
    [{ schedules: [schedule({ timezone: "+05:30" })] }, "schedules[0].timezone", "UTC offset"],
    [{ schedules: [schedule({ timezone: "UTC+2" })] }, "schedules[0].timezone", "UTC offset"],
    [{ schedules: [schedule({ timezone: "europe/paris" })] }, "schedules[0].timezone", "not spelled as"],
    [{ schedules: [schedule({ timezone: "Mars/Base" })] }, "schedules[0].timezone", "IANA"],
    // Names: control characters and megabyte-long values.
    [{ cluster: { name: "prod\u001b[31m\nforged" } }, "cluster.name", "letters, digits"],
    [{ cluster: { name: MB } }, "cluster.name", "at most 63 characters"],
    [{ cluster: { name: "-prod" } }, "cluster.name", "starting and ending"],
    [{ schedules: [schedule({ name: MB })] }, "schedules[0].name", "at most 52 characters"],
    [{ schedules: [schedule({ name: "night\nly" })] }, "schedules[0].name", "a-z"],
    [{ cluster: { kotsadmNamespace: "Default" } }, "cluster.kotsadmNamespace", "Kubernetes namespace"],
    [{ cluster: { veleroNamespace: MB } }, "cluster.veleroNamespace", "at most 63"],
    [{ cluster: { context: "prod\u009b31m" } }, "cluster.context", "control characters"],
    [{ cluster: { kubeconfig: MB } }, "cluster.kubeconfig", "at most 4096"],
    [{ schedules: [schedule({ type: "partial", app: "my app" })] }, "schedules[0].app", "app slug"],
    [{ export: { configApps: ["my-app\u001b]8;;x\u0007"] } }, "export.configApps[0]", "app slug"],
    [{ schedules: [schedule({ cron: MB })] }, "schedules[0].cron", "at most 200 characters"],
    // Header values and names: CR/LF would add headers of their own.
    [
      { alerts: { webhook: { url: "env:HOOK", headers: { "X-Team": "a\r\nX-Evil: 1" } } } },
      "alerts.webhook.headers.X-Team",
      "line breaks",
    ],
    [
      { alerts: { webhook: { url: "env:HOOK", headers: { "X-Team\r\nX-Evil": "1" } } } },
      "alerts.webhook.headers.X-Team\\r\\nX-Evil",
      "",
    ],
    // An unknown key is named, escaped and cut.
    [{ ["clu\u001bster"]: {} }, "clu\\u001bster", "unknown key"],
    [{ [MB]: {} }, `${"a".repeat(64)}…`, "unknown key"],
  ])("rejects %#: %s (%s)", (input, field, text) => {
    const error = errorOf(input);
    expect(error.code).toBe("invalid-config");
    expect(error.exitCode).toBe(2);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    expect(error.message).toContain(text);
    expect(error.fix).toBeTruthy();
    // The bad value is echoed safely: no control character, and never at length.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
    expect(`${error.message}${error.fix}`).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(error.message.length).toBeLessThan(400);
  });

  it("says which canonical zone was meant", () => {
    expect(errorOf({ schedules: [schedule({ timezone: "europe/paris" })] }).fix).toBe(
      "did you mean Europe/Paris?",
    );
  });

  it("accepts canonical zones, UTC spelled either way, year-long periods and decade-long retention", () => {
    for (const timezone of ["UTC", "Etc/UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]) {
      expect(parseConfig({ schedules: [schedule({ timezone })] }).schedules[0]?.timezone).toBe(timezone);
    }
    const config = parseConfig({
      schedules: [schedule({ grace: "366d" })],
      export: { lifecycle: { retention: "3650d" }, objectLock: { mode: "GOVERNANCE", retention: "3650d" } },
      daemon: { metricsHost: "0.0.0.0" },
      alerts: { webhook: { url: "env:HOOK", headers: { "X-Team": "platform\tops" } } },
    });
    expect(config.schedules[0]?.grace).toBe(366 * 86_400_000);
    expect(config.export.lifecycle?.retention).toBe(3650 * 86_400_000);
    expect(config.daemon.metricsHost).toBe("0.0.0.0");
    for (const host of ["::", "::1", "127.0.0.1", "kots-backup.internal"]) {
      expect(parseConfig({ daemon: { metricsHost: host } }).daemon.metricsHost).toBe(host);
    }
  });

  it("never echoes a plain secret value in the message", () => {
    const error = errorOf({ alerts: { pagerDuty: { routingKey: "R0UT1NGKEY" } } });
    expect(error.explanation).not.toContain("R0UT1NGKEY");
  });

  it("accepts every kind of secret reference", () => {
    const config = parseConfig({
      alerts: {
        pagerDuty: { routingKey: "sst:PagerDutyKey" },
        slack: { webhookUrl: "env:SLACK_URL" },
        webhook: { url: "file:/run/secrets/hook", headers: { "X-Team": "platform" } },
      },
      daemon: { heartbeatUrl: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hc-AbCd" },
    });
    expect(config.alerts.webhook?.headers).toEqual({ "X-Team": "platform" });
  });

  it("accepts a partial schedule with its app", () => {
    const [s] = parseConfig({ schedules: [schedule({ type: "partial", app: "my-app" })] }).schedules;
    expect(s?.app).toBe("my-app");
  });

  it("refuses a document that is not an object", () => {
    expect(errorOf("nightly").message).toContain("object");
  });
});

describe("formatPath", () => {
  it("writes array indexes in brackets and keys with dots", () => {
    expect(formatPath(["schedules", 0, "cron"])).toBe("schedules[0].cron");
    expect(formatPath([])).toBe("");
  });
});

describe("committed files", () => {
  it("kots-backup.schema.json equals the schema generated from the validator", () => {
    expect(readFileSync(join(root, "kots-backup.schema.json"), "utf8")).toBe(renderConfigJsonSchema());
  });

  it("kots-backup.example.yaml parses", () => {
    const config = parseConfig(parseYaml(readFileSync(join(root, "kots-backup.example.yaml"), "utf8")));
    expect(config.schedules.map((s) => s.name)).toEqual(["nightly", "app-6h"]);
    expect(config.cluster.name).toBe("prod-eu");
  });
});

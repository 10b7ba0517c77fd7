// Deploy-time config: kots-backup.yaml read and validated by the shared schema, plus the AWS rules; every
// failure names the file and the field before anything is planned.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CONFIG_PATH_ENV,
  configPath,
  DEFAULT_LIFECYCLE,
  DeployConfigError,
  deploySettings,
  loadDeploySettings,
} from "../../infra/config.ts";

const CLUSTER = { name: "prod-eu", credentials: "sst:ClusterCredentials" };
const base = (extra: Record<string, unknown> = {}) => ({ cluster: CLUSTER, ...extra });

function failure(document: unknown): DeployConfigError {
  try {
    deploySettings(document);
  } catch (error) {
    if (error instanceof DeployConfigError) return error;
    throw error;
  }
  throw new Error("expected a DeployConfigError");
}

describe("deploy-time config", () => {
  it("reads kots-backup.yaml from the root, or the file named by KOTS_BACKUP_CONFIG", () => {
    expect(configPath({}, "/repo")).toBe("/repo/kots-backup.yaml");
    expect(configPath({ [CONFIG_PATH_ENV]: "conf/prod.yaml" }, "/repo")).toBe("/repo/conf/prod.yaml");
    expect(configPath({ [CONFIG_PATH_ENV]: "/etc/kb.yaml" }, "/repo")).toBe("/etc/kb.yaml");
  });

  it("loads and validates a YAML file", () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-infra-"));
    const file = join(dir, "kots-backup.yaml");
    writeFileSync(
      file,
      [
        "cluster: { name: prod-eu, credentials: 'sst:ClusterCredentials' }",
        "schedules:",
        "  - { name: nightly, cron: '30 2 * * *', timezone: Europe/Paris }",
        "export: { destination: 's3://acme-kots-exports/prod-eu' }",
        "alerts: { pagerDuty: { routingKey: 'sst:PagerDutyRoutingKey' } }",
      ].join("\n"),
    );
    const settings = loadDeploySettings(file);
    expect(settings.config.schedules[0]).toMatchObject({
      name: "nightly",
      timezone: "Europe/Paris",
      grace: 3_600_000,
    });
    expect(settings.bucket).toEqual({ name: "acme-kots-exports", prefix: "prod-eu" });
    expect(settings.lifecycle).toEqual(DEFAULT_LIFECYCLE);
    expect(settings.alarmEmails).toEqual([]);
    expect(settings.objectLock).toBeUndefined();
    expect(settings.vpc).toBeUndefined();
  });

  it("fails on a missing file, naming it and the fix", () => {
    expect(() => loadDeploySettings("/nonexistent/kots-backup.yaml")).toThrow(
      /\/nonexistent\/kots-backup\.yaml: not found\n {2}fix: copy kots-backup\.example\.yaml/,
    );
  });

  it("fails on a YAML syntax error", () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-infra-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "schedules: [\n");
    expect(() => loadDeploySettings(file)).toThrow(/bad\.yaml: is not valid YAML/);
  });

  it.each([
    [
      { cluster: CLUSTER, schedules: [{ name: "n", cron: "0 0 1 * MON" }] },
      "schedules[0].cron",
      "day-of-month and day-of-week",
    ],
    [
      { cluster: CLUSTER, schedules: [{ name: "n", cron: "0 0 * * *", timezone: "Mars/Base" }] },
      "schedules[0].timezone",
      "IANA",
    ],
    [{ cluster: CLUSTER, clusterr: {} }, "clusterr", "unknown key"],
    [{ cluster: { name: "x" } }, "cluster.credentials", "required on AWS"],
    [
      base({ alerts: { slack: { webhookUrl: "env:SLACK_WEBHOOK_URL" } } }),
      "alerts.slack.webhookUrl",
      "cannot be resolved in Lambda",
    ],
    [
      base({ alerts: { pagerDuty: { routingKey: "file:/run/key" } } }),
      "alerts.pagerDuty.routingKey",
      "cannot be resolved in Lambda",
    ],
    [{ cluster: { credentials: "env:KUBE" } }, "cluster.credentials", "cannot be resolved in Lambda"],
    [base({ export: { destination: "file:///var/kb" } }), "export.destination", "must be s3://"],
    [base({ export: { destination: "./exports" } }), "export.destination", "must be s3://"],
    [
      base({ export: { destination: "s3://b-b-b/p", endpoint: "https://minio:9000" } }),
      "export.endpoint",
      "not used on AWS",
    ],
  ])("refuses %j naming %s", (document, field, text) => {
    const error = failure(document);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`kots-backup.yaml: ${field}`);
    expect(error.message).toContain(text);
    expect(error.message).toMatch(/\n {2}fix: /);
  });

  it("lets the stack name the bucket when the destination is not written, at the bucket root", () => {
    const settings = deploySettings(base());
    expect(settings.bucket).toEqual({ prefix: "" });
  });

  it("ignores the local daemon's keys (its heartbeat URL may be an env: reference)", () => {
    expect(
      deploySettings(base({ daemon: { heartbeatUrl: "env:HEALTHCHECKS_PING_URL" } })).config.daemon
        .heartbeatUrl,
    ).toBe("env:HEALTHCHECKS_PING_URL");
  });

  it("accepts an EKS cluster instead of credentials", () => {
    const settings = deploySettings({ cluster: { eks: { clusterName: "prod", region: "eu-west-1" } } });
    expect(settings.config.cluster.eks).toEqual({ clusterName: "prod", region: "eu-west-1" });
  });

  it("keeps the document as written for delivery to the functions", () => {
    const document = base({ schedules: [{ name: "n", cron: "0 3 * * *", grace: "30m" }] });
    const settings = deploySettings(document);
    expect(settings.document).toBe(document);
    expect(settings.config.schedules[0]?.grace).toBe(1_800_000);
  });

  it("reads the AWS-only keys: lifecycle ages, Object Lock, alarm emails and the VPC", () => {
    const settings = deploySettings(
      base({
        export: {
          lifecycle: { tierAfter: "14d", retention: "180d", noncurrentVersions: "7d" },
          objectLock: { mode: "GOVERNANCE", retention: "30d" },
        },
        alerts: { email: ["oncall@example.com"] },
        aws: { vpc: { privateSubnets: ["subnet-1"], securityGroups: ["sg-1"] } },
      }),
    );
    expect(settings.lifecycle).toEqual({ tierAfterDays: 14, expireAfterDays: 180, noncurrentDays: 7 });
    expect(settings.objectLock).toEqual({ mode: "GOVERNANCE", days: 30 });
    expect(settings.alarmEmails).toEqual(["oncall@example.com"]);
    expect(settings.vpc).toEqual({ privateSubnets: ["subnet-1"], securityGroups: ["sg-1"] });
  });

  it("refuses a malformed alarm email, naming the field", () => {
    expect(failure(base({ alerts: { email: ["not-an-address"] } })).message).toContain("alerts.email[0]");
  });
});

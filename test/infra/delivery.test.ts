// Secrets and config delivery: one sst.Secret per `sst:Name` the config references, linked only to the
// functions that read it; the validated document reaches the functions through the deployment linkable.
import { describe, expect, it } from "vitest";
import { deploySettings } from "../../infra/config.ts";
import {
  DEPLOYMENT_LINK,
  deployment,
  resetDeployment,
} from "../../packages/functions/src/config-delivery.ts";
import { byType, setupHarness } from "./harness.ts";

const settings = deploySettings({
  cluster: { name: "prod-eu", credentials: "sst:ClusterCredentials" },
  schedules: [{ name: "nightly", cron: "30 2 * * *", grace: "45m" }],
  alerts: {
    pagerDuty: { routingKey: "sst:PagerDutyRoutingKey" },
    webhook: { url: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook" },
  },
});

describe("secrets", () => {
  it("creates one sst.Secret per referenced sst: name and links each only where it is read", async () => {
    // What `sst secret set` provides at deploy time; without it the deploy fails naming the secret.
    process.env["SST_SECRET_ClusterCredentials"] = '{"server":"https://k8s","caData":"","token":"t"}';
    process.env["SST_SECRET_PagerDutyRoutingKey"] = "R0UT1NGKEY";
    const h = await setupHarness();
    const { createSecrets } = await h.infra("secrets.ts");
    // biome-ignore lint/suspicious/noExplicitAny: module loaded by path.
    let secrets: any;
    const resources = await h.capture(() => {
      secrets = createSecrets(settings.config);
    });
    expect(byType(resources, "sst:sst:Secret").map((s) => s.name)).toEqual([
      "ClusterCredentials",
      "PagerDutyRoutingKey",
    ]);
    const names = (fn: string) => secrets.forFunction(fn).map((s: { _name: string }) => s._name);
    expect(names("scheduled")).toEqual(["ClusterCredentials"]);
    expect(names("reconcile")).toEqual(["ClusterCredentials"]);
    expect(names("onDemand")).toEqual(["ClusterCredentials"]);
    expect(names("notify")).toEqual(["PagerDutyRoutingKey"]);
  });

  it("refuses a secret named like the stack's own linkable", async () => {
    const h = await setupHarness();
    const { createSecrets } = await h.infra("secrets.ts");
    const clash = deploySettings({ cluster: { credentials: "sst:KotsBackupDeployment" } });
    expect(() => createSecrets(clash.config)).toThrow(
      /sst:KotsBackupDeployment is a name the stack uses itself/,
    );
  });
});

describe("config delivery", () => {
  it("points the delivered document at the stack's bucket and prefix", async () => {
    const h = await setupHarness();
    const functions = await h.infra("functions.ts");
    expect(functions.DEPLOYMENT_LINK).toBe(DEPLOYMENT_LINK);
    const delivered = functions.deliveredDocument(
      settings.document,
      "kots-backup-prod-exports-abc",
      "prod-eu",
    );
    expect(delivered.export).toEqual({ destination: "s3://kots-backup-prod-exports-abc/prod-eu" });
    expect(functions.deliveredDocument({}, "b", "").export).toEqual({ destination: "s3://b" });
    expect(settings.document).not.toHaveProperty("export");
  });

  it("is re-validated at run time by the same schema (durations parsed once more)", async () => {
    const h = await setupHarness();
    const functions = await h.infra("functions.ts");
    const linked = {
      [DEPLOYMENT_LINK]: {
        config: functions.deliveredDocument(settings.document, "bkt", "prod-eu"),
        bucket: "bkt",
        prefix: "prod-eu",
        busName: "kots-backup-prod-EventsBus",
      },
    };
    const d = deployment(linked);
    expect(d.config.schedules[0]).toMatchObject({ name: "nightly", grace: 2_700_000 });
    expect(d.config.export.destination).toBe("s3://bkt/prod-eu");
    expect(d).toMatchObject({ bucket: "bkt", prefix: "prod-eu", busName: "kots-backup-prod-EventsBus" });
  });

  it("reads SST's Resource (faked through SST_RESOURCE_* env) and caches it per container", () => {
    process.env[`SST_RESOURCE_${DEPLOYMENT_LINK}`] = JSON.stringify({
      type: "sst.sst.Linkable",
      config: { cluster: { credentials: "sst:ClusterCredentials" }, export: { destination: "s3://bkt" } },
      bucket: "bkt",
      prefix: "",
      busName: "bus",
    });
    resetDeployment();
    const first = deployment();
    expect(first.config.export.destination).toBe("s3://bkt");
    expect(deployment()).toBe(first);
    resetDeployment();
  });

  it("fails with the field named when the linked document is invalid", () => {
    expect(() =>
      deployment({
        [DEPLOYMENT_LINK]: {
          config: { schedules: [{ name: "x", cron: "bad" }] },
          bucket: "b",
          prefix: "",
          busName: "e",
        },
      }),
    ).toThrow(/schedules\[0\]\.cron/);
  });
});

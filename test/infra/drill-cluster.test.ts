// The live drill on AWS: the onDemand function (the drill schedule's target) reaches the DR cluster
// through drill.cluster.credentials (or eks), so it alone is granted that secret; a kubeconfig or CA file
// named by drill.cluster does not exist in Lambda, so the deploy refuses it, naming the field.
import { describe, expect, it } from "vitest";
import { DeployConfigError, deploySettings } from "../../infra/config.ts";
import {
  FUNCTION_NAMES,
  functionPermissions,
  type PermissionStatement,
  secretUses,
  sstSecretNames,
} from "../../infra/permissions.ts";

const targets = {
  partition: "aws",
  region: "eu-west-1",
  accountId: "123456789012",
  bucketArn: "arn:aws:s3:::acme-kots-exports",
  prefix: "prod-eu",
  kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
  busArn: "arn:aws:events:eu-west-1:123456789012:event-bus/kots-backup-prod-Events",
  deadLetterQueueArn: "arn:aws:sqs:eu-west-1:123456789012:kots-backup-prod-DeadLetters",
};
const SM_CLUSTER = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kots/cluster";
const SM_DR = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kots/dr-cluster";

const withDrill = (cluster: Record<string, unknown>, main: Record<string, unknown> = {}) => ({
  cluster: { name: "prod-eu", credentials: SM_CLUSTER, ...main },
  drill: { schedule: "0 5 * * 0", cluster },
});
const resourcesFor = (statements: PermissionStatement[], action: string) =>
  statements.filter((s) => s.actions.includes(action)).flatMap((s) => s.resources);
const grants = (document: unknown, action: string) =>
  Object.fromEntries(
    FUNCTION_NAMES.map((fn) => [
      fn,
      resourcesFor(functionPermissions(fn, deploySettings(document).config, targets), action),
    ]),
  );

function failure(document: unknown): DeployConfigError {
  try {
    deploySettings(document);
  } catch (error) {
    if (error instanceof DeployConfigError) return error;
    throw error;
  }
  throw new Error("expected a DeployConfigError");
}

describe("drill.cluster on AWS", () => {
  it("grants secretsmanager:GetSecretValue on drill.cluster.credentials to onDemand only", () => {
    const main = [SM_CLUSTER, `${SM_CLUSTER}-??????`];
    expect(grants(withDrill({ credentials: SM_DR }), "secretsmanager:GetSecretValue")).toEqual({
      scheduled: main,
      reconcile: main,
      onDemand: [SM_CLUSTER, `${SM_CLUSTER}-??????`, SM_DR, `${SM_DR}-??????`],
      notify: [],
    });
    expect(secretUses(deploySettings(withDrill({ credentials: SM_DR })).config)).toContainEqual(
      expect.objectContaining({ field: "drill.cluster.credentials", ref: SM_DR, usedBy: ["onDemand"] }),
    );
  });

  it("links an sst: drill.cluster.credentials to onDemand only", () => {
    const config = deploySettings(withDrill({ credentials: "sst:DrClusterCredentials" })).config;
    expect(sstSecretNames(config, "onDemand")).toEqual(["DrClusterCredentials"]);
    for (const fn of ["scheduled", "reconcile", "notify"] as const)
      expect(sstSecretNames(config, fn)).toEqual([]);
  });

  it("grants onDemand eks:DescribeCluster on the DR EKS cluster, beside the main cluster's", () => {
    const drEks = { credentials: SM_DR, eks: { clusterName: "dr", region: "eu-central-1" } };
    expect(grants(withDrill(drEks), "eks:DescribeCluster")).toEqual({
      scheduled: [],
      reconcile: [],
      onDemand: ["arn:aws:eks:eu-central-1:123456789012:cluster/dr"],
      notify: [],
    });
    const bothEks = withDrill(drEks, { eks: { clusterName: "prod", region: "eu-west-1" } });
    expect(grants(bothEks, "eks:DescribeCluster")["onDemand"]).toEqual([
      "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
      "arn:aws:eks:eu-central-1:123456789012:cluster/dr",
    ]);
    expect(grants(bothEks, "eks:DescribeCluster")["reconcile"]).toEqual([
      "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
    ]);
  });

  it.each([
    [{ kubeconfig: "/etc/kots-backup/dr.yaml" }, "drill.cluster.kubeconfig", "kubeconfig file"],
    [{ credentials: SM_DR, caFile: "/etc/dr-ca.pem" }, "drill.cluster.caFile", "CA file"],
    [{ credentials: "env:DR_CLUSTER" }, "drill.cluster.credentials", "cannot be resolved in Lambda"],
  ])("refuses drill.cluster %j at deploy, naming %s and the fix", (cluster, field, text) => {
    const error = failure(withDrill(cluster));
    expect(error.field).toBe(field);
    expect(error.message).toContain(`kots-backup.yaml: ${field}`);
    expect(error.message).toContain(text);
    expect(error.message).toMatch(/\n {2}fix: /);
  });

  it("names credentials or eks as the fix for a DR kubeconfig", () => {
    const error = failure(withDrill({ kubeconfig: "/etc/kots-backup/dr.yaml" }));
    expect(error.message).toMatch(/fix: .*drill\.cluster\.credentials.*drill\.cluster\.eks/);
  });

  it("accepts drill.cluster.credentials, alone or with eks", () => {
    expect(
      deploySettings(withDrill({ credentials: "sst:DrClusterCredentials" })).config.drill?.cluster,
    ).toMatchObject({ credentials: "sst:DrClusterCredentials" });
    expect(
      deploySettings(withDrill({ credentials: SM_DR, eks: { clusterName: "dr", region: "eu-west-1" } }))
        .config.drill?.cluster?.eks,
    ).toEqual({ clusterName: "dr", region: "eu-west-1" });
  });
});

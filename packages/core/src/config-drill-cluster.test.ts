// drill.cluster's connection choices: the same as cluster's (a kubeconfig file and context, a
// `{server, caData, token}` secret, or EKS signing with server and caData from that secret), exactly one.
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.ts";

const withDrillCluster = (cluster: Record<string, unknown>) =>
  parseConfig({ drill: { schedule: "0 5 * * 0", cluster } });

/** The InputError parseConfig throws for `cluster`. */
function refusal(cluster: Record<string, unknown>): { field: string; message: string; fix: string } {
  try {
    withDrillCluster(cluster);
  } catch (error) {
    return error as { field: string; message: string; fix: string };
  }
  throw new Error(`expected drill.cluster ${JSON.stringify(cluster)} to be refused`);
}

const EKS = { clusterName: "dr-eu", region: "eu-west-1" };
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kb-dr";

describe("drill.cluster connection", () => {
  it("accepts a credentials secret alone, credentials with eks, and a caFile, with the drill defaults", () => {
    expect(withDrillCluster({ credentials: "sst:DrClusterCredentials" }).drill?.cluster).toEqual({
      credentials: "sst:DrClusterCredentials",
      insecureSkipTlsVerify: false,
      veleroNamespace: "velero",
      namespacePrefix: "kb-drill-",
      syncTimeout: 300_000,
      restoreTimeout: 1_800_000,
    });
    expect(withDrillCluster({ credentials: SECRET, eks: EKS }).drill?.cluster).toMatchObject({
      credentials: SECRET,
      eks: EKS,
    });
    expect(
      withDrillCluster({ kubeconfig: "/etc/dr.yaml", context: "dr", caFile: "/etc/dr-ca.pem" }).drill
        ?.cluster,
    ).toMatchObject({ kubeconfig: "/etc/dr.yaml", context: "dr", caFile: "/etc/dr-ca.pem" });
  });

  it.each([
    ["nothing", {}],
    ["kubeconfig and credentials", { kubeconfig: "/etc/dr.yaml", credentials: SECRET }],
    ["kubeconfig and eks", { kubeconfig: "/etc/dr.yaml", eks: EKS }],
    ["all three", { kubeconfig: "/etc/dr.yaml", credentials: SECRET, eks: EKS }],
  ])("refuses %s: exactly one way to the DR cluster, naming drill.cluster", (_what, cluster) => {
    const error = refusal(cluster);
    expect(error.field).toBe("drill.cluster");
    expect(error.message).toBe("drill.cluster: set exactly one of kubeconfig, credentials or eks");
    expect(error.fix).toContain("credentials");
    expect(error.fix).toContain("eks");
  });

  it("refuses eks without credentials (they hold its server and caData), naming drill.cluster.credentials", () => {
    const error = refusal({ eks: EKS });
    expect(error.field).toBe("drill.cluster.credentials");
    expect(error.message).toContain("required with eks");
    expect(error.fix).toContain("caData");
  });

  it("refuses a context without a kubeconfig, naming drill.cluster.context", () => {
    const error = refusal({ credentials: SECRET, context: "dr" });
    expect(error.field).toBe("drill.cluster.context");
    expect(error.message).toContain("only goes with kubeconfig");
  });

  it("refuses credentials written as a plain value or an eks without its region, naming the field", () => {
    expect(refusal({ credentials: '{"token":"abc"}' }).field).toBe("drill.cluster.credentials");
    expect(refusal({ credentials: SECRET, eks: { clusterName: "dr" } }).field).toBe(
      "drill.cluster.eks.region",
    );
  });
});

import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.ts";
import {
  drillRestore,
  drillRestoreName,
  parseVeleroObject,
  pluralOf,
  restorableItems,
  restoreFailure,
  scratchNamespaces,
} from "./live-drill.ts";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

describe("scratch namespaces", () => {
  it("maps each namespace to a distinct DNS-1123 label of at most 63 characters, under the prefix", () => {
    const long = "a".repeat(63);
    const mapping = scratchNamespaces("kb-drill-", "x1y2z", [long, `${long.slice(0, 62)}b`, "my-app"]);
    const names = Object.values(mapping);
    expect(new Set(names).size).toBe(3);
    for (const name of names) {
      expect(name).toMatch(DNS_LABEL);
      expect(name.startsWith("kb-drill-x1y2z-")).toBe(true);
    }
    expect(mapping["my-app"]).toBe("kb-drill-x1y2z-2-my-app");
  });

  it("never ends a cut name with a dash", () => {
    // Cut at 63 right after a dash of the source name.
    const source = `${"b".repeat(45)}-cd`; // "kb-drill-abcde-0-" is 17 characters: the dash lands 63rd
    const [name] = Object.values(scratchNamespaces("kb-drill-", "abcde", [source]));
    expect(name).toMatch(DNS_LABEL);
  });

  it("names the Restore after the backup, within a label value's 63 characters", () => {
    expect(drillRestoreName("instance-abc12", "x1y2z")).toBe("instance-abc12-drill-x1y2z");
    const long = drillRestoreName(`${"a".repeat(49)}.-b${"c".repeat(20)}`, "x1y2z");
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
    expect(long).not.toMatch(/[.-]-drill/);
  });
});

describe("the drill's Restore", () => {
  it("restores only the mapped namespaces, never cluster-scoped objects", () => {
    const restore = drillRestore({
      name: "b-drill-x",
      veleroNamespace: "velero",
      backup: "b",
      namespaceMapping: { "my-app": "kb-drill-x-0-my-app", default: "kb-drill-x-1-default" },
    });
    expect(restore).toMatchObject({
      apiVersion: "velero.io/v1",
      kind: "Restore",
      metadata: { name: "b-drill-x", namespace: "velero", labels: { "kots-backup.io/drill": "true" } },
      spec: {
        backupName: "b",
        includedNamespaces: ["my-app", "default"],
        namespaceMapping: { "my-app": "kb-drill-x-0-my-app", default: "kb-drill-x-1-default" },
        includeClusterResources: false,
      },
    });
  });
});

describe("restorable items of a resource list", () => {
  it("keeps namespaced items a default restore brings back, and the backup's namespaces", () => {
    const { namespaces, items } = restorableItems({
      "v1/Namespace": ["my-app", "empty"],
      "v1/ConfigMap": ["my-app/web-config"],
      "apps/v1/Deployment": ["my-app/web"],
      "v1/ServiceAccount": ["my-app/builder"],
      "v1/Secret": ["my-app/builder-token-x7k2p", "my-app/web-secret"],
      "v1/Pod": ["my-app/web-5d8f-abcde"],
      "batch/v1/Job": ["my-app/migrate"],
      "v1/Event": ["my-app/web.17f"],
      "velero.io/v1/Backup": ["velero/old"],
      "rbac.authorization.k8s.io/v1/ClusterRole": ["web-reader"],
      "apiextensions.k8s.io/v1/CustomResourceDefinition": ["widgets.example.com"],
    });
    // No scratch namespace for one without namespaced items: Velero would create nothing in it.
    expect(namespaces).toEqual(["my-app", "velero"]);
    expect(items.map((i) => `${i.apiVersion} ${i.kind} ${i.namespace}/${i.name}`).sort()).toEqual([
      "apps/v1 Deployment my-app/web",
      "v1 ConfigMap my-app/web-config",
      "v1 Secret my-app/web-secret",
      "v1 ServiceAccount my-app/builder",
    ]);
    expect(items.find((i) => i.kind === "Deployment")).toMatchObject({ group: "apps", version: "v1" });
    expect(items.find((i) => i.kind === "ConfigMap")).toMatchObject({ group: "", version: "v1" });
  });

  it("refuses what is not Velero's resource list, or a namespace that cannot be one", () => {
    expect(() => restorableItems(["v1/ConfigMap"])).toThrow(/not Velero's/);
    expect(() => restorableItems({ "v1/ConfigMap": [1] })).toThrow(/not Velero's/);
    expect(() => restorableItems({ ConfigMap: ["a/b"] })).toThrow(/names type "?ConfigMap/);
    expect(() => restorableItems({ "v1/ConfigMap": ["Bad_NS\u001b/x"] })).toThrow(
      /names namespace Bad_NS\\u001b/,
    );
  });
});

describe("the DR cluster's answers", () => {
  it("passes a Completed Restore; says why another ended, with its counts, escaped", () => {
    const completed = parseVeleroObject(
      { metadata: { name: "r" }, status: { phase: "Completed" } },
      "Restore r",
    );
    expect(restoreFailure(completed)).toBeUndefined();
    const failed = parseVeleroObject(
      {
        metadata: { name: "r" },
        status: { phase: "PartiallyFailed", errors: 2, warnings: 1, failureReason: "bad\n\u001b[31mred" },
      },
      "Restore r",
    );
    const cause = restoreFailure(failed) as string;
    expect(cause).toContain(
      "Restore r ended PartiallyFailed (errors 2, warnings 1, failureReason bad\\n\\u001b[31mred)",
    );
    expect(cause).toContain("velero restore describe r --details");
    expect(cause.includes("\n") || cause.includes("\u001b")).toBe(false);
    const invalid = parseVeleroObject(
      { metadata: { name: "r" }, status: { phase: "FailedValidation", validationErrors: ["no backup"] } },
      "Restore r",
    );
    expect(restoreFailure(invalid)).toContain(
      "FailedValidation (errors 0, warnings 0, validation: no backup)",
    );
  });

  it("ignores malformed counts rather than trusting them, and refuses an object without a name", () => {
    const odd = parseVeleroObject(
      { metadata: { name: "r" }, status: { phase: "Failed", errors: "many" } },
      "x",
    );
    expect(restoreFailure(odd)).toContain("errors 0");
    expect(() => parseVeleroObject({ status: {} }, "Restore r")).toThrow(/Restore r with an object/);
  });

  it("finds a kind's plural in discovery, never a subresource", () => {
    const discovery = {
      resources: [
        { name: "deployments/scale", kind: "Scale", namespaced: true },
        { name: "deployments", kind: "Deployment", namespaced: true },
      ],
    };
    expect(pluralOf(discovery, "Deployment")).toBe("deployments");
    expect(pluralOf(discovery, "Scale")).toBeUndefined();
    expect(pluralOf({ resources: "x" }, "Deployment")).toBeUndefined();
  });
});

describe("drill.cluster config", () => {
  const base = { drill: { schedule: "0 5 * * 0" } };
  it("needs only the kubeconfig; defaults the rest", () => {
    const config = parseConfig({ drill: { ...base.drill, cluster: { kubeconfig: "/etc/dr.yaml" } } });
    expect(config.drill?.cluster).toEqual({
      kubeconfig: "/etc/dr.yaml",
      insecureSkipTlsVerify: false,
      veleroNamespace: "velero",
      namespacePrefix: "kb-drill-",
      syncTimeout: 300_000,
      restoreTimeout: 1_800_000,
    });
  });

  it("refuses no way to the DR cluster, a bad prefix or timeout, naming the field", () => {
    // The connection choices themselves: config-drill-cluster.test.ts.
    expect(() => parseConfig({ drill: { ...base.drill, cluster: {} } })).toThrow(
      expect.objectContaining({ field: "drill.cluster" }),
    );
    expect(() =>
      parseConfig({ drill: { ...base.drill, cluster: { kubeconfig: "k", namespacePrefix: "KB_" } } }),
    ).toThrow(expect.objectContaining({ field: "drill.cluster.namespacePrefix" }));
    expect(() =>
      parseConfig({
        drill: { ...base.drill, cluster: { kubeconfig: "k", namespacePrefix: "a".repeat(41) } },
      }),
    ).toThrow(expect.objectContaining({ field: "drill.cluster.namespacePrefix" }));
    expect(() =>
      parseConfig({ drill: { ...base.drill, cluster: { kubeconfig: "k", restoreTimeout: "2d" } } }),
    ).toThrow(expect.objectContaining({ field: "drill.cluster.restoreTimeout" }));
    expect(() =>
      parseConfig({ drill: { ...base.drill, cluster: { kubeconfig: "k", velero: "x" } } }),
    ).toThrow(expect.objectContaining({ field: "drill.cluster.velero" }));
  });
});

import { describe, expect, it } from "vitest";
import { expectedBucketSettings, expectedLifecycleRules, lifecycleProblems } from "./bucket-policy.ts";

describe("expected lifecycle rules", () => {
  const rules = expectedLifecycleRules({ prefix: "prod-eu" });

  it("aborts incomplete multipart uploads after one day", () => {
    expect(rules[0]).toMatchObject({
      Filter: { Prefix: "prod-eu/" },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    });
  });

  it("tiers and expires backups and manifests only when tagged expirable", () => {
    const backups = rules.find((r) => r.ID === "kots-backup-expirable-velero-backups");
    expect(backups).toMatchObject({
      Filter: {
        And: { Prefix: "prod-eu/velero/backups/", Tags: [{ Key: "kots-backup/expirable", Value: "true" }] },
      },
      Transitions: [{ Days: 30, StorageClass: "GLACIER_IR" }],
      Expiration: { Days: 90 },
    });
    expect(rules.find((r) => r.ID === "kots-backup-expirable-manifests")?.Filter.And?.Prefix).toBe(
      "prod-eu/manifests/",
    );
  });

  it("puts no age rule on the kopia or restic repositories", () => {
    for (const rule of rules) {
      const prefix = rule.Filter.And?.Prefix ?? rule.Filter.Prefix ?? "";
      if (rule.AbortIncompleteMultipartUpload) continue;
      expect(prefix.startsWith("prod-eu/velero/kopia") || prefix.startsWith("prod-eu/velero/restic")).toBe(
        false,
      );
      expect("prod-eu/velero/kopia/".startsWith(prefix)).toBe(false);
    }
  });

  it("finds nothing wrong with its own rules", () => {
    expect(lifecycleProblems(rules, "prod-eu")).toEqual([]);
    expect(lifecycleProblems(expectedLifecycleRules({ prefix: "" }), "")).toEqual([]);
  });

  it("flags a bucket-wide expiry rule, which would break the kopia repository and ignore keepLast", () => {
    const problems = lifecycleProblems(
      [...rules, { ID: "expire-all", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 30 } }],
      "prod-eu",
    );
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/velero\/kopia\//);
    expect(problems.join("\n")).toMatch(/keepLast/);
  });

  it("flags a missing abort-multipart rule", () => {
    expect(lifecycleProblems([], "p")).toEqual([
      "no rule aborts incomplete multipart uploads (expected after 1 day)",
    ]);
  });

  it("expects versioning, encryption, a public-access block and TLS only", () => {
    const settings = expectedBucketSettings("acme-exports", { prefix: "" });
    expect(settings.versioning.Status).toBe("Enabled");
    expect(Object.values(settings.publicAccessBlock).every(Boolean)).toBe(true);
    expect(settings.policyStatements[0]).toMatchObject({
      Effect: "Deny",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  });
});

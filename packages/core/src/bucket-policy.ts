// The export bucket's expected settings, as data: `doctor` compares the real bucket against them and
// the infra code applies them. Shapes follow the S3 API (PascalCase) so adapters pass them through.
// Lifecycle choices that are easy to get wrong:
// - age rules (tiering, expiry) apply ONLY to objects tagged kots-backup/expirable=true, which
//   retention.ts sets on everything but the newest keepLast verified exports;
// - nothing with an age ever touches velero/kopia/ or velero/restic/: Kopia maintenance reads and
//   rewrites repository blobs, and an expired or cold-tiered blob breaks every later backup;
// - GLACIER_IR because restores must not wait hours, and it allows a transition at day 0.
import { CONFIG_ROOT, MANIFESTS_ROOT, REPOSITORY_FOLDERS, STATE_ROOT, VELERO_ROOT } from "./export-layout.ts";
import { EXPIRABLE_TAG } from "./retention.ts";

export interface LifecycleRule {
  ID: string;
  Status: "Enabled" | "Disabled";
  Filter: { Prefix?: string; And?: { Prefix?: string; Tags?: { Key: string; Value: string }[] } };
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number };
  Transitions?: { Days: number; StorageClass: string }[];
  Expiration?: { Days?: number; ExpiredObjectDeleteMarker?: boolean };
  NoncurrentVersionExpiration?: { NoncurrentDays: number; NewerNoncurrentVersions?: number };
  NoncurrentVersionTransitions?: { NoncurrentDays: number; StorageClass: string }[];
}

export interface LifecycleOptions {
  /** Destination prefix inside the bucket, without leading slash ("" for the root). */
  prefix: string;
  /** Days after creation before expirable exports move to GLACIER_IR (default 30). */
  tierAfterDays?: number;
  /** Days after creation before expirable exports are deleted (default 90; ≥ 90 avoids GLACIER_IR early-deletion fees). */
  expireAfterDays?: number;
  /** Days a replaced or deleted version is kept (default 30). */
  noncurrentDays?: number;
}

/** Prefixes (relative to `<p>`) whose expirable objects are tiered and expired. */
export const EXPIRABLE_PREFIXES = [`${VELERO_ROOT}backups/`, MANIFESTS_ROOT, CONFIG_ROOT] as const;
/** Prefixes whose noncurrent versions expire: everything kots-backup writes except the repositories. */
export const NONCURRENT_PREFIXES = [...EXPIRABLE_PREFIXES, STATE_ROOT] as const;

const join = (prefix: string, key: string) => (prefix === "" ? key : `${prefix.replace(/\/+$/, "")}/${key}`);
const slug = (key: string) => key.replace(/\/$/, "").replace(/\//g, "-");

export function expectedLifecycleRules(options: LifecycleOptions): LifecycleRule[] {
  const { prefix, tierAfterDays = 30, expireAfterDays = 90, noncurrentDays = 30 } = options;
  const tag = { Key: EXPIRABLE_TAG.key, Value: EXPIRABLE_TAG.value };
  const rules: LifecycleRule[] = [
    {
      ID: "kots-backup-abort-incomplete-uploads",
      Status: "Enabled",
      Filter: { Prefix: join(prefix, "") },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    },
  ];
  for (const folder of EXPIRABLE_PREFIXES) {
    rules.push({
      ID: `kots-backup-expirable-${slug(folder)}`,
      Status: "Enabled",
      Filter: { And: { Prefix: join(prefix, folder), Tags: [tag] } },
      ...(folder === "config/" ? {} : { Transitions: [{ Days: tierAfterDays, StorageClass: "GLACIER_IR" }] }),
      Expiration: { Days: expireAfterDays },
    });
  }
  for (const folder of NONCURRENT_PREFIXES) {
    rules.push({
      ID: `kots-backup-noncurrent-${slug(folder)}`,
      Status: "Enabled",
      Filter: { Prefix: join(prefix, folder) },
      NoncurrentVersionExpiration: { NoncurrentDays: noncurrentDays },
    });
  }
  return rules;
}

function hasAgeAction(rule: LifecycleRule): boolean {
  return Boolean(
    rule.Transitions?.length ||
      rule.Expiration?.Days ||
      rule.NoncurrentVersionExpiration ||
      rule.NoncurrentVersionTransitions?.length,
  );
}

function rulePrefix(rule: LifecycleRule): string {
  return rule.Filter.And?.Prefix ?? rule.Filter.Prefix ?? "";
}

function overlaps(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/** Sentences describing what is wrong with a bucket's lifecycle rules; empty when all is well. */
export function lifecycleProblems(rules: readonly LifecycleRule[], prefix: string): string[] {
  const problems: string[] = [];
  const enabled = rules.filter((r) => r.Status === "Enabled");
  const abort = enabled.some(
    (r) =>
      r.AbortIncompleteMultipartUpload &&
      r.AbortIncompleteMultipartUpload.DaysAfterInitiation <= 7 &&
      join(prefix, "").startsWith(rulePrefix(r)),
  );
  if (!abort) problems.push("no rule aborts incomplete multipart uploads (expected after 1 day)");
  for (const rule of enabled.filter(hasAgeAction)) {
    for (const folder of REPOSITORY_FOLDERS) {
      if (overlaps(rulePrefix(rule), join(prefix, `${VELERO_ROOT}${folder}/`))) {
        problems.push(
          `rule ${rule.ID} ages objects under ${VELERO_ROOT}${folder}/; a Velero repository must never be tiered or expired`,
        );
      }
    }
    const tagged = rule.Filter.And?.Tags?.some(
      (t) => t.Key === EXPIRABLE_TAG.key && t.Value === EXPIRABLE_TAG.value,
    );
    if ((rule.Expiration?.Days || rule.Transitions?.length) && !tagged) {
      problems.push(
        `rule ${rule.ID} expires or tiers objects not tagged ${EXPIRABLE_TAG.key}=${EXPIRABLE_TAG.value}, so it ignores keepLast`,
      );
    }
  }
  return problems;
}

/** Bucket policy statement refusing any request not made over TLS. */
export function tlsOnlyStatement(bucket: string): Record<string, unknown> {
  return {
    Sid: "KotsBackupDenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:*",
    Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/** Everything `doctor` checks on the export bucket. Object Lock is optional (recommended, not required). */
export function expectedBucketSettings(bucket: string, lifecycle: LifecycleOptions) {
  return {
    versioning: { Status: "Enabled" },
    /** Default encryption; either algorithm is accepted. KOTS cannot send SSE headers, so a deny-unencrypted policy is not used. */
    encryption: { acceptedAlgorithms: ["aws:kms", "AES256"] as const, bucketKeyEnabledWithKms: true },
    publicAccessBlock: {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    },
    policyStatements: [tlsOnlyStatement(bucket)],
    lifecycleRules: expectedLifecycleRules(lifecycle),
    objectLock: { required: false, recommendedMode: "GOVERNANCE" as const },
  } as const;
}

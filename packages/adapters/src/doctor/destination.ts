// `doctor`'s export-destination checks. S3: versioning, default encryption, lifecycle rules, public
// access block and Object Lock against core's expectedBucketSettings (bucket-policy.ts). A local
// folder: writable, and enough free space.
import { randomBytes } from "node:crypto";
import { mkdir, statfs, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  expectedBucketSettings,
  type LifecycleRule,
  lifecycleProblems,
} from "@kots-backup/core/bucket-policy";
import type { DoctorCheck } from "./types.ts";

/** Below this, a local destination fails the free-space check. */
export const MIN_FREE_BYTES = 1024 ** 3;

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

function errorName(error: unknown): string {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name ?? e?.Code ?? "Error";
}

/** A local folder destination: writable (a probe file is written and removed) and free space. */
export async function localFolderChecks(root: string, minFreeBytes = MIN_FREE_BYTES): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  let writable = false;
  try {
    await mkdir(root, { recursive: true });
    const probe = join(root, `.kots-backup-doctor-${randomBytes(6).toString("hex")}`);
    await writeFile(probe, "kots-backup doctor probe\n");
    await unlink(probe);
    writable = true;
    checks.push({ name: "destination writable", ok: true, detail: `${root} is writable` });
  } catch (error) {
    checks.push({
      name: "destination writable",
      ok: false,
      detail: `cannot write to ${root} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      fix: `create ${root} and let the user running kots-backup write to it, or change export.destination`,
    });
  }
  if (!writable) {
    checks.push({
      name: "destination free space",
      ok: false,
      skipped: true,
      detail: "not checked: not writable",
    });
    return checks;
  }
  const stats = await statfs(root);
  const free = Number(stats.bavail) * Number(stats.bsize);
  checks.push(
    free >= minFreeBytes
      ? { name: "destination free space", ok: true, detail: `${gib(free)} free on ${root}` }
      : {
          name: "destination free space",
          ok: false,
          detail: `only ${gib(free)} free on ${root} (at least ${gib(minFreeBytes)} expected; exports are as large as the backups)`,
          fix: "free space there, or point export.destination at a larger disk or an S3 bucket",
        },
  );
  return checks;
}

/** An S3 destination: the bucket's settings against the expected ones. */
export async function s3BucketChecks(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<DoctorCheck[]> {
  const expected = expectedBucketSettings(bucket, { prefix });
  const checks: DoctorCheck[] = [];
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    checks.push({ name: "destination bucket", ok: true, detail: `s3://${bucket} reachable` });
  } catch (error) {
    checks.push({
      name: "destination bucket",
      ok: false,
      detail: `cannot reach s3://${bucket} (${errorName(error)})`,
      fix: "check the bucket name, export.endpoint/region and the credentials (s3:ListBucket)",
    });
    for (const name of ["versioning", "encryption", "lifecycle", "public access block", "object lock"]) {
      checks.push({
        name: `destination ${name}`,
        ok: false,
        skipped: true,
        detail: "not checked: bucket unreachable",
      });
    }
    return checks;
  }
  const read = async <T>(
    name: string,
    fn: () => Promise<T>,
    absent: string[],
  ): Promise<T | "absent" | DoctorCheck> => {
    try {
      return await fn();
    } catch (error) {
      if (absent.includes(errorName(error))) return "absent";
      return {
        name,
        ok: false,
        detail: `could not read the setting (${errorName(error)})`,
        fix: "let kots-backup's identity read the bucket's configuration (s3:GetBucket*, s3:GetLifecycleConfiguration, s3:GetBucketObjectLockConfiguration)",
      };
    }
  };
  const isCheck = (v: unknown): v is DoctorCheck => typeof v === "object" && v !== null && "ok" in v;

  const versioning = await read(
    "destination versioning",
    () => client.send(new GetBucketVersioningCommand({ Bucket: bucket })),
    [],
  );
  if (isCheck(versioning)) checks.push(versioning);
  else {
    const status = versioning === "absent" ? undefined : versioning.Status;
    checks.push(
      status === expected.versioning.Status
        ? { name: "destination versioning", ok: true, detail: "Enabled" }
        : {
            name: "destination versioning",
            ok: false,
            detail: `versioning is ${status ?? "off"}: an overwritten or deleted export cannot be recovered`,
            fix: `aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`,
          },
    );
  }

  const encryption = await read(
    "destination encryption",
    () => client.send(new GetBucketEncryptionCommand({ Bucket: bucket })),
    ["ServerSideEncryptionConfigurationNotFoundError"],
  );
  if (isCheck(encryption)) checks.push(encryption);
  else {
    const rule =
      encryption === "absent" ? undefined : encryption.ServerSideEncryptionConfiguration?.Rules?.[0];
    const algorithm = rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;
    const accepted = (expected.encryption.acceptedAlgorithms as readonly string[]).includes(algorithm ?? "");
    if (!accepted) {
      checks.push({
        name: "destination encryption",
        ok: false,
        detail: `default encryption is ${algorithm ?? "not set"} (expected one of ${expected.encryption.acceptedAlgorithms.join(", ")})`,
        fix: `aws s3api put-bucket-encryption --bucket ${bucket} --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"},"BucketKeyEnabled":true}]}'`,
      });
    } else if (
      algorithm === "aws:kms" &&
      expected.encryption.bucketKeyEnabledWithKms &&
      !rule?.BucketKeyEnabled
    ) {
      checks.push({
        name: "destination encryption",
        ok: false,
        detail: "SSE-KMS without an S3 Bucket Key: every object costs a KMS request",
        fix: "enable BucketKeyEnabled in the bucket's default encryption rule",
      });
    } else
      checks.push({ name: "destination encryption", ok: true, detail: `default encryption ${algorithm}` });
  }

  const lifecycle = await read(
    "destination lifecycle",
    () => client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })),
    ["NoSuchLifecycleConfiguration"],
  );
  if (isCheck(lifecycle)) checks.push(lifecycle);
  else {
    const rules = (lifecycle === "absent" ? [] : (lifecycle.Rules ?? [])) as unknown as LifecycleRule[];
    const problems = lifecycleProblems(rules, prefix);
    checks.push(
      problems.length === 0
        ? { name: "destination lifecycle", ok: true, detail: `${rules.length} rule(s), as expected` }
        : {
            name: "destination lifecycle",
            ok: false,
            detail: problems.join("; "),
            fix: `apply the expected rules (${expected.lifecycleRules.map((r) => r.ID).join(", ")}); the SST deployment creates them, see docs/deploy-aws.md`,
          },
    );
  }

  const pab = await read(
    "destination public access block",
    () => client.send(new GetPublicAccessBlockCommand({ Bucket: bucket })),
    ["NoSuchPublicAccessBlockConfiguration"],
  );
  if (isCheck(pab)) checks.push(pab);
  else {
    const config = (pab === "absent" ? {} : (pab.PublicAccessBlockConfiguration ?? {})) as Record<
      string,
      boolean | undefined
    >;
    const off = Object.keys(expected.publicAccessBlock).filter((k) => config[k] !== true);
    checks.push(
      off.length === 0
        ? { name: "destination public access block", ok: true, detail: "all four settings on" }
        : {
            name: "destination public access block",
            ok: false,
            detail: `not blocked: ${off.join(", ")}`,
            fix: `aws s3api put-public-access-block --bucket ${bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`,
          },
    );
  }

  const lock = await read(
    "destination object lock",
    () => client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })),
    ["ObjectLockConfigurationNotFoundError"],
  );
  if (isCheck(lock)) checks.push(lock);
  else {
    const enabled = lock !== "absent" && lock.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled";
    const mode = lock === "absent" ? undefined : lock.ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode;
    checks.push({
      name: "destination object lock",
      ok: enabled || !expected.objectLock.required,
      detail: enabled
        ? `enabled${mode ? ` (default retention ${mode})` : ""}`
        : `not enabled (optional; ${expected.objectLock.recommendedMode} mode recommended against deletion by a compromised account; it can only be set when the bucket is created)`,
    });
  }
  return checks;
}

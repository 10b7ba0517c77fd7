// The onDemand function's only delete (infra/permissions.ts: s3:DeleteObject on <p>/state/drills/*) against
// the stack's export bucket with Object Lock on, in the moto S3 peer: pruning old drill runs through the
// real S3 store succeeds (a delete without a version id adds a delete marker, which the lock allows), the
// pruned run's locked version is still there, and destroying a version stays refused by the lock.
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { readDrillRuns, recordDrillRun } from "@kots-backup/core/usecases/drill-runs";
import { beforeAll, expect, it } from "vitest";
import { describeWithMoto, motoS3, uniqueBucketName } from "../support/peers.ts";
import { one, setupHarness } from "./harness.ts";

const PREFIX = "prod-eu";
const run = (at: string) => ({ at, ok: true, results: [{ backup: "nightly-1", ok: true, durationMs: 5 }] });

describeWithMoto("drill-run pruning on the stack's Object Lock bucket (moto)", () => {
  let s3: S3Client;
  let Bucket: string;
  beforeAll(async () => {
    const h = await setupHarness();
    const { createStorage } = await h.infra("storage.ts");
    Bucket = uniqueBucketName("kb-drill-lock");
    const resources = await h.capture(() =>
      createStorage({
        bucket: { name: Bucket, prefix: PREFIX },
        lifecycle: { tierAfterDays: 30, expireAfterDays: 90, noncurrentDays: 30 },
        objectLock: { mode: "COMPLIANCE", days: 30 },
      }),
    );
    const lock = one(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").inputs;
    s3 = motoS3();
    // Object Lock turns versioning on.
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: lock["objectLockEnabled"],
          Rule: {
            DefaultRetention: {
              Mode: lock["rule"].defaultRetention.mode,
              Days: lock["rule"].defaultRetention.days,
            },
          },
        },
      }),
    );
  });

  it("keeps the newest runs, leaves the pruned run's locked version in place, and refuses destroying it", async () => {
    const store = new S3Store({ bucket: Bucket, prefix: PREFIX, client: s3 });
    const times = ["2026-01-01T03:00:00.000Z", "2026-01-02T03:00:00.000Z", "2026-01-03T03:00:00.000Z"];
    for (const at of times) expect((await recordDrillRun(store, run(at), 2)).pruneError).toBeUndefined();
    expect((await readDrillRuns(store)).map((r) => r.at)).toEqual([times[2], times[1]]);

    const pruned = `${PREFIX}/state/drills/${times[0]}.json`;
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: pruned }));
    expect(versions.DeleteMarkers?.map((m) => m.IsLatest)).toEqual([true]);
    const locked = versions.Versions?.[0]?.VersionId;
    expect(locked).toBeDefined();
    // The grant has no s3:DeleteObjectVersion, and even with it the lock would refuse.
    await expect(
      s3.send(new DeleteObjectCommand({ Bucket, Key: pruned, VersionId: locked })),
    ).rejects.toThrow();
  });
});

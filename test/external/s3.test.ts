// A bucket as a recovery point, against moto 5.2.5: it serves GetBucketVersioning, GetBucketReplication
// (ReplicationConfigurationNotFoundError when none) and ListObjectsV2, but does not replicate objects, so
// the replica's objects are written by the test as S3 replication would.
import {
  CreateBucketCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { externalObserver } from "@kots-backup/adapters/external/index";
import { parseConfig } from "@kots-backup/core/config";
import { evaluateExternal } from "@kots-backup/core/external";
import { expect, it } from "vitest";
import { describeWithMoto, motoClientConfig, motoS3, uniqueBucketName } from "../support/peers.ts";

function point(extra: Record<string, unknown>) {
  const [p] = parseConfig({
    external: [{ kind: "s3", name: "uploads", app: "orders", period: "1d", forcePathStyle: true, ...extra }],
  }).external;
  if (p?.kind !== "s3") throw new Error("not s3");
  return p;
}

async function bucket(versioned: boolean): Promise<string> {
  const name = uniqueBucketName("kb-ext");
  await motoS3().send(new CreateBucketCommand({ Bucket: name }));
  if (versioned)
    await motoS3().send(
      new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Enabled" } }),
    );
  return name;
}

const look = (p: ReturnType<typeof point>, now = new Date()) =>
  externalObserver([p], { allowCommand: false, aws: motoClientConfig() })(p, now);

describeWithMoto("external s3 (moto)", () => {
  it("versioning off is down with unprotected at once", async () => {
    const p = point({ bucket: await bucket(false) });
    const observation = await look(p);
    expect(observation).toMatchObject({ reachable: true, unprotected: true });
    expect(observation.detail).toContain("versioning never enabled; no enabled replication rule");
    expect(evaluateExternal(p, observation, new Date())).toMatchObject({
      state: "down",
      reasons: ["unprotected"],
    });
  });

  it("versioning on without an enabled replication rule is unprotected; with one it is protected up to now", async () => {
    const source = await bucket(true);
    const replica = await bucket(true);
    const p = point({ bucket: source });
    expect((await look(p)).unprotected).toBe(true);
    await motoS3().send(
      new PutBucketReplicationCommand({
        Bucket: source,
        ReplicationConfiguration: {
          Role: "arn:aws:iam::123456789012:role/replication",
          Rules: [
            {
              ID: "all",
              Status: "Enabled",
              Priority: 1,
              Filter: { Prefix: "" },
              DeleteMarkerReplication: { Status: "Disabled" },
              Destination: { Bucket: `arn:aws:s3:::${replica}` },
            },
          ],
        },
      }),
    );
    const now = new Date();
    const observation = await look(p, now);
    expect(observation.unprotected).toBeUndefined();
    expect(observation.detail).toBe(`versioning on; replicated to arn:aws:s3:::${replica}`);
    expect(evaluateExternal(p, observation, now).state).toBe("up");
  });

  it("with a replica: its newest object under the prefix is the recovery point", async () => {
    const source = await bucket(true);
    const replica = await bucket(true);
    const p = point({ bucket: source, replica: { bucket: replica, prefix: "heartbeat/" } });
    const empty = await look(p);
    expect(empty).toMatchObject({ reachable: true });
    expect(empty.newestAt).toBeUndefined();
    await motoS3().send(new PutObjectCommand({ Bucket: replica, Key: "heartbeat/a", Body: "x" }));
    await motoS3().send(new PutObjectCommand({ Bucket: replica, Key: "other/b", Body: "x" }));
    const seen = await look(p);
    expect(seen.newestId).toBe("heartbeat/a");
    const age = Date.now() - Date.parse(seen.newestAt ?? "");
    expect(age).toBeGreaterThanOrEqual(-1000);
    expect(age).toBeLessThan(60_000);
    // Two days later nothing new has arrived: missed.
    const later = new Date(Date.now() + 2 * 86_400_000);
    expect(evaluateExternal(p, seen, later, { firstSeenAt: seen.newestAt }).reasons).toEqual(["missed"]);
  });

  it("a bucket that does not exist is unreachable, naming the call", async () => {
    const observation = await look(point({ bucket: uniqueBucketName("kb-none") }));
    expect(observation.reachable).toBe(false);
    expect(observation.detail).toMatch(
      /^s3:GetBucketVersioning on kb-none-.* failed \(NoSuchBucket, HTTP 404\)$/,
    );
  });
});

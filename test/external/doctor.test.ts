// doctor's external checks: RDS against moto (DescribeDBInstances and the snapshots), S3 against moto,
// and a command in a temp folder.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateDBInstanceCommand, RDSClient } from "@aws-sdk/client-rds";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { externalChecks } from "@kots-backup/adapters/doctor/external";
import { parseConfig } from "@kots-backup/core/config";
import { afterAll, expect, it } from "vitest";
import {
  describeWithMoto,
  motoClientConfig,
  motoS3,
  uniqueBucketName,
  uniqueName,
} from "../support/peers.ts";

const dir = mkdtempSync(join(tmpdir(), "kb-doctor-ext-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithMoto("doctor: external recovery points", () => {
  it("passes a readable source, and fails a missing instance, backups off, an unversioned bucket, a broken command", async () => {
    const rds = new RDSClient(motoClientConfig());
    const create = async (id: string, retention: number) =>
      rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: id,
          Engine: "postgres",
          DBInstanceClass: "db.t3.micro",
          AllocatedStorage: 20,
          MasterUsername: "app",
          MasterUserPassword: "password-123",
          StorageEncrypted: true,
          BackupRetentionPeriod: retention,
        }),
      );
    const good = uniqueName("good").toLowerCase();
    const off = uniqueName("off").toLowerCase();
    await create(good, 7);
    await create(off, 0);
    const bucket = uniqueBucketName("kb-doc");
    await motoS3().send(new CreateBucketCommand({ Bucket: bucket }));
    const ok = join(dir, "ok");
    writeFileSync(ok, "#!/bin/sh\necho 2026-06-10T09:30:00Z\n");
    chmodSync(ok, 0o755);
    const common = { app: "orders", period: "1d" };
    const { external } = parseConfig({
      external: [
        { kind: "rds", name: "good", ...common, instance: good },
        { kind: "rds", name: "missing", ...common, instance: uniqueName("none").toLowerCase() },
        { kind: "rds", name: "off", ...common, instance: off },
        { kind: "s3", name: "bucket", ...common, bucket, forcePathStyle: true },
        { kind: "command", name: "script", ...common, command: [ok] },
        { kind: "command", name: "absent", ...common, command: [join(dir, "absent")] },
      ],
    });
    const checks = await externalChecks(external, { aws: motoClientConfig() });
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName["external good (rds)"]).toMatchObject({ ok: true });
    expect(byName["external good (rds)"]?.detail).toMatch(/automated backups kept 7d; newest snapshot/);
    expect(byName["external missing (rds)"]).toMatchObject({ ok: false });
    expect(byName["external missing (rds)"]?.detail).toMatch(
      /rds:DescribeDBInstances failed \(DBInstanceNotFound/,
    );
    expect(byName["external off (rds)"]).toMatchObject({
      ok: false,
      fix: "set a backup retention period of 1 day or more on it",
    });
    expect(byName["external bucket (s3)"]).toMatchObject({ ok: false });
    expect(byName["external bucket (s3)"]?.detail).toContain("not protected: versioning never enabled");
    expect(byName["external script (command)"]).toMatchObject({ ok: true });
    expect(byName["external absent (command)"]).toMatchObject({ ok: false });
    expect(byName["external absent (command)"]?.detail).toContain("could not be started (ENOENT)");
  });
});

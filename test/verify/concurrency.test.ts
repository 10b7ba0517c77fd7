// Ten verify runs at once against one state store on moto S3 (conditional writes on the ETag) while
// a check goes down: exactly one run records the transition and exactly one page is sent. Then ten
// more while it recovers: exactly one Check Up.
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { runVerify } from "@kots-backup/core/usecases/verify";
import { checkRecordStore } from "@kots-backup/core/usecases/verify-state";
import { expect, it } from "vitest";
import { describeWithMoto, motoS3, uniqueBucketName } from "../support/peers.ts";
import { at, harness, schedule, writeManifest } from "./support.ts";

const nightly = schedule({ name: "nightly", cron: "0 2 * * *" });

describeWithMoto("verify: concurrent runs on one S3 state store (moto)", () => {
  it("ten concurrent runs while a check goes down page exactly once, and resolve exactly once", async () => {
    // Prepare: the schedule is first seen on 2026-03-01 at 12:30; no backup comes for the 02:00 slot.
    const bucket = uniqueBucketName("kb-verify");
    await motoS3().send(new CreateBucketCommand({ Bucket: bucket }));
    const h = harness(new S3Store({ bucket, prefix: "kots-backup/prod", client: motoS3() }));
    await runVerify([nightly], h.deps(at("2026-03-01T12:30:00Z")));
    // Act: ten runs at the end of the slot's grace.
    const down = await Promise.all(
      Array.from({ length: 10 }, () => runVerify([nightly], h.deps(at("2026-03-02T03:00:00Z")))),
    );
    // Assess
    expect(down.every((r) => r.report.checks[0]?.state === "down")).toBe(true);
    expect(down.flatMap((r) => r.transitions).map((t) => t.events.map((e) => e.detailType))).toEqual([
      ["Check Down"],
    ]);
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly"]);
    expect(h.delivery.to("slack")).toEqual(["Check Down:nightly"]);
    const record = await checkRecordStore(h.destination).read("nightly");
    expect(record?.value).toMatchObject({
      state: "down",
      since: "2026-03-02T03:00:00Z",
      reasons: ["missed", "never-succeeded"],
    });
    expect(record?.value.outbox).toBeUndefined();

    // Recovery, ten at once again.
    const b = h.cluster.addFull("instance-late", at("2026-03-02T04:00:00Z"));
    await writeManifest(h.destination, b, at("2026-03-02T04:20:00Z"));
    const up = await Promise.all(
      Array.from({ length: 10 }, () => runVerify([nightly], h.deps(at("2026-03-02T04:30:00Z")))),
    );
    expect(up.every((r) => r.report.checks[0]?.state === "up")).toBe(true);
    expect(h.delivery.to("pagerduty")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
    expect(h.delivery.to("slack")).toEqual(["Check Down:nightly", "Check Up:nightly"]);
  });
});

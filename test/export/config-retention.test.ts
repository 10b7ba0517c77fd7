// Retention of the KOTS config archives (`config/<app>/…tar.gz`) through the real export path, on the
// local folder and on S3 (moto, tags read back with GetObjectTagging): per app, archives older than the
// newest keepLast are tagged expirable, except those of exports retention keeps.
import { GetObjectTaggingCommand } from "@aws-sdk/client-s3";
import { saveManualKotsConfig } from "@kots-backup/adapters/export/engine";
import type { ObjectStore } from "@kots-backup/core";
import { EXPIRABLE_TAG } from "@kots-backup/core/retention";
import { afterEach, describe, expect, it } from "vitest";
import { describeWithMoto, motoS3 } from "../support/peers.ts";
import { pause } from "../support/wait.ts";
import {
  type ExportEnv,
  keysOf,
  localDestination,
  motoStore,
  openExportEnv,
  removeTempFolders,
} from "./support.ts";

let env: ExportEnv | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
  removeTempFolders();
});

const APPS = ["my-app", "other-app"];
const PARTIALS = ["my-app-aaaa1", "my-app-aaaa2", "my-app-aaaa3", "my-app-aaaa4"];

/**
 * With keepLast 2: a manual archive of other-app; a full export, then four my-app exports, each saving
 * my-app's archive; then one more export (its pass sees the fourth archive). Returns the destination's
 * config keys. `gapMs` separates the writes (S3's LastModified has whole seconds).
 */
async function exportWithConfigs(dest: ObjectStore, gapMs: number): Promise<string[]> {
  env = await openExportEnv({ apps: APPS.map((slug) => ({ slug })) });
  const kotsadm = await env.cluster.kotsadm();
  const downloadConfig = (app: string) => kotsadm.download(app);
  const start = env.sandbox.clock.nowMs();
  const hoursAgo = (h: number) => new Date(start - h * 3_600_000);
  await env.sandbox.scenario.addBackup({ name: "instance-full1", startedAt: hoursAgo(10) });
  for (const [i, name] of PARTIALS.entries())
    await env.sandbox.scenario.addBackup({
      name,
      kind: "app",
      appSlug: "my-app",
      startedAt: hoursAgo(8 - i),
    });
  await env.sandbox.scenario.addBackup({ name: "my-app-aaaa5", kind: "app", startedAt: hoursAgo(1) });

  await saveManualKotsConfig(dest, "other-app", downloadConfig);
  for (const name of ["instance-full1", ...PARTIALS]) {
    await pause(gapMs);
    await env.run({ backup: name, keepLast: 2, configApps: ["my-app"] }, dest, { downloadConfig });
  }
  await pause(gapMs);
  const last = await env.run({ backup: "my-app-aaaa5", keepLast: 2 }, dest);
  expect(last.expirable).toEqual(["my-app-aaaa3", "my-app-aaaa2", "my-app-aaaa1"]);
  return keysOf(dest, "config/");
}

/** What the scenario must leave: the two oldest partial exports' archives tagged, nothing else. */
async function expectConfigRetention(keys: string[], isTagged: (key: string) => Promise<boolean>) {
  const manual = keys.filter((key) => key.startsWith("config/other-app/manual-"));
  expect(manual).toHaveLength(1);
  expect(keys.sort()).toEqual(
    [
      ...manual,
      "config/my-app/instance-full1.tar.gz",
      ...PARTIALS.map((name) => `config/my-app/${name}.tar.gz`),
    ].sort(),
  );
  const tagged: string[] = [];
  for (const key of keys) if (await isTagged(key)) tagged.push(key);
  // my-app-aaaa3 and -aaaa4: the newest two of my-app. instance-full1: the oldest, but its export is
  // kept (the only full one). other-app's archive: the oldest of all, but the newest of its app.
  expect(tagged.sort()).toEqual(["config/my-app/my-app-aaaa1.tar.gz", "config/my-app/my-app-aaaa2.tar.gz"]);
}

describe("config archive retention on a local folder", () => {
  it("tags a my-app archive older than the newest keepLast, never the newest, a kept export's or another app's", async () => {
    const dest = localDestination();
    const keys = await exportWithConfigs(dest, 20);
    await expectConfigRetention(
      keys,
      async (key) => (await dest.tagsOf(key))?.[EXPIRABLE_TAG.key] === EXPIRABLE_TAG.value,
    );
  });
});

describeWithMoto("config archive retention on S3 (moto)", () => {
  it("tags a my-app archive older than the newest keepLast, never the newest, a kept export's or another app's", async () => {
    const dest = await motoStore("exports");
    const keys = await exportWithConfigs(dest, 1_100);
    const s3 = motoS3();
    await expectConfigRetention(keys, async (key) => {
      const { TagSet } = await s3.send(
        new GetObjectTaggingCommand({ Bucket: dest.bucket, Key: `exports/${key}` }),
      );
      return (TagSet ?? []).some((t) => t.Key === EXPIRABLE_TAG.key && t.Value === EXPIRABLE_TAG.value);
    });
  });
});

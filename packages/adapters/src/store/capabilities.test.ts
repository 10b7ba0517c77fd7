// The ObjectStore port's optional capabilities, per store: the export asks for the member, never for
// the class. Which store has which is what keeps the export's behaviour (server-side copy only
// S3 → S3; a stated checksum only from S3; file-system key limits only in a local folder).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import type { ObjectStore } from "@kots-backup/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalFolderStore } from "./local-folder.ts";
import { MemoryStore } from "./memory.ts";
import { S3Store } from "./s3.ts";

// Nothing listens there: a capability that sent a request would fail with a network error.
const s3 = (bucket: string) =>
  new S3Store({
    bucket,
    client: new S3Client({
      endpoint: "http://127.0.0.1:9",
      region: "us-east-1",
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    }),
  });

describe("ObjectStore capabilities", () => {
  let dir: string;
  let local: LocalFolderStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kb-capabilities-"));
    local = new LocalFolderStore(join(dir, "dest"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("an S3 store copies server-side from another S3 store only, and refuses any other before a request", async () => {
    const dest = s3("dest-bucket");
    const memory = new MemoryStore();
    expect(dest.canCopyFrom(s3("source-bucket"))).toBe(true);
    expect(dest.canCopyFrom(memory)).toBe(false);
    expect(dest.canCopyFrom(local)).toBe(false);
    await expect(dest.copyFrom(memory, "a/b", "a/b")).rejects.toMatchObject({
      code: "copy-unsupported",
      message: expect.stringContaining("memory://memory"),
    });
  });

  it("only S3 states checksums and copies server-side; only a local folder has limits of its own", () => {
    const stores: ObjectStore[] = [s3("any-bucket"), local, new MemoryStore()];
    expect(stores.map((s) => typeof s.statedChecksums)).toEqual(["function", "undefined", "undefined"]);
    expect(stores.map((s) => typeof s.copyFrom)).toEqual(["function", "undefined", "undefined"]);
    expect(stores.map((s) => typeof s.keyProblem)).toEqual(["undefined", "function", "undefined"]);
    expect(local.keyProblem(`velero/kopia/${"x".repeat(300)}`)).toMatch(/limited to 255/);
    expect(local.keyProblem("velero/kopia/ns/blob")).toBeUndefined();
  });
});

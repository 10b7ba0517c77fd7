// StateStore on each ObjectStore (memory, local folder, S3 on moto): claims, alert state, silences,
// and refusal of corrupt state.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import type { ObjectStore } from "@kots-backup/core";
import type { SlotClaim } from "@kots-backup/core/state";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateStore, slotClaimStore } from "../../packages/adapters/src/state/state-store.ts";
import { LocalFolderStore } from "../../packages/adapters/src/store/local-folder.ts";
import { MemoryStore } from "../../packages/adapters/src/store/memory.ts";
import { S3Store } from "../../packages/adapters/src/store/s3.ts";
import { describeWithMoto, motoS3, uniqueBucketName } from "../support/peers.ts";

const SLOT = "2026-03-01T02:00:00Z";

function claim(schedule: string, slot = SLOT, extra: Partial<SlotClaim> = {}): SlotClaim {
  return { schedule, slot, claimedAt: "2026-03-01T02:00:03Z", ...extra };
}

function stateStoreSuite(name: string, makeStore: () => Promise<ObjectStore>) {
  describe(name, () => {
    let store: ObjectStore;
    let state: StateStore;
    beforeAll(async () => {
      store = await makeStore();
      state = new StateStore(store);
    });

    describe("claims", () => {
      it("the first claim wins; a second gets the winner's record", async () => {
        const first = await state.claimSlot("nightly", SLOT, claim("nightly"));
        expect(first.won).toBe(true);
        const second = await state.claimSlot(
          "nightly",
          SLOT,
          claim("nightly", SLOT, { claimedAt: "2026-03-01T02:00:09Z" }),
        );
        expect(second).toMatchObject({ won: false, existing: claim("nightly") });
        expect(await store.head("state/claims/nightly/2026-03-01T02:00:00Z.json")).toBeDefined();
      });

      it("of 20 concurrent claims for one slot exactly one wins, and every loser sees the winner", async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            state.claimSlot(
              "hourly",
              SLOT,
              claim("hourly", SLOT, { claimedAt: `2026-03-01T02:00:${String(10 + i)}Z` }),
            ),
          ),
        );
        const winners = results.filter((r) => r.won);
        expect(winners).toHaveLength(1);
        const stored = await state.readClaim("hourly", SLOT);
        for (const r of results) if (!r.won) expect(r.existing).toEqual(stored?.value);
      });

      it("a slot with milliseconds maps to the same claim as without", async () => {
        await state.claimSlot("ms", "2026-03-01T02:00:00.000Z", claim("ms", "2026-03-01T02:00:00.000Z"));
        expect((await state.claimSlot("ms", SLOT, claim("ms"))).won).toBe(false);
      });

      it("updateClaim records the backup name with If-Match; a stale etag loses", async () => {
        const won = await state.claimSlot("weekly", SLOT, claim("weekly"));
        if (!won.won) throw new Error("expected to win");
        const updated = await state.updateClaim(
          claim("weekly", SLOT, { outcome: "started", backup: "instance-abc" }),
          won.etag,
        );
        expect(updated.written).toBe(true);
        const stale = await state.updateClaim(claim("weekly", SLOT, { outcome: "error" }), won.etag);
        expect(stale).toEqual({ written: false });
        expect((await state.readClaim("weekly", SLOT))?.value).toEqual(
          claim("weekly", SLOT, { outcome: "started", backup: "instance-abc" }),
        );
      });

      it("listClaims lists one schedule's claims in slot order", async () => {
        for (const slot of ["2026-03-02T02:00:00Z", "2026-03-01T02:00:00Z", "2026-03-03T02:00:00Z"]) {
          await state.claimSlot("listed", slot, claim("listed", slot));
        }
        expect((await state.listClaims("listed")).map((c) => c.slot)).toEqual([
          "2026-03-01T02:00:00Z",
          "2026-03-02T02:00:00Z",
          "2026-03-03T02:00:00Z",
        ]);
      });

      it("the SlotClaimStore wrapper for the backup use case", async () => {
        const claims = slotClaimStore(state);
        expect(await claims.claimSlot("wrapped", SLOT, claim("wrapped"))).toBe(true);
        expect(await claims.claimSlot("wrapped", SLOT, claim("wrapped"))).toBe(false);
        await claims.updateClaim(claim("wrapped", SLOT, { outcome: "started", backup: "b-1" }));
        expect(await claims.getClaim("wrapped", SLOT)).toEqual(
          claim("wrapped", SLOT, { outcome: "started", backup: "b-1" }),
        );
        expect((await claims.listClaims()).some((c) => c.schedule === "wrapped")).toBe(true);
      });

      it("refuses a record for another slot, or a bad schedule name", async () => {
        await expect(state.claimSlot("a", SLOT, claim("b"))).rejects.toMatchObject({
          code: "claim-mismatch",
        });
        await expect(state.claimSlot("a", "yesterday", claim("a"))).rejects.toMatchObject({
          code: "invalid-slot",
        });
        await expect(state.claimSlot("../x", SLOT, claim("../x"))).rejects.toMatchObject({
          code: "invalid-name",
        });
      });
    });

    describe("silences", () => {
      it("set, read, list (all and active), clear", async () => {
        await state.setSilence({
          schedule: "s1",
          until: "2026-03-02T00:00:00Z",
          createdAt: "2026-03-01T00:00:00Z",
          reason: "upgrade",
        });
        await state.setSilence({
          schedule: "s2",
          until: "2026-03-01T12:00:00Z",
          createdAt: "2026-03-01T00:00:00Z",
        });
        expect(await state.readSilence("s1")).toMatchObject({ reason: "upgrade" });
        expect((await state.listSilences()).map((s) => s.schedule)).toEqual(["s1", "s2"]);
        expect(
          (await state.listSilences({ activeAt: new Date("2026-03-01T18:00:00Z") })).map((s) => s.schedule),
        ).toEqual(["s1"]);
        await state.setSilence({
          schedule: "s1",
          until: "2026-03-05T00:00:00Z",
          createdAt: "2026-03-01T01:00:00Z",
        });
        expect((await state.readSilence("s1"))?.until).toBe("2026-03-05T00:00:00Z");
        await state.clearSilence("s1");
        await state.clearSilence("s1");
        expect(await state.readSilence("s1")).toBeUndefined();
      });
    });

    describe("corrupt state", () => {
      it("invalid JSON → EnvironmentError state-corrupt naming the key", async () => {
        await store.put("state/silences/broken.json", "{not json");
        await expect(state.readSilence("broken")).rejects.toMatchObject({
          code: "state-corrupt",
          message: expect.stringContaining("state/silences/broken.json"),
          fix: expect.stringContaining("delete it"),
        });
      });

      it("wrong shape, or unknown extra fields → state-corrupt", async () => {
        await store.put(
          "state/claims/extra/2026-03-01T02:00:00Z.json",
          JSON.stringify({ ...claim("extra"), surprise: true }),
        );
        await expect(state.readClaim("extra", SLOT)).rejects.toMatchObject({ code: "state-corrupt" });
        await store.put(
          "state/silences/s9.json",
          JSON.stringify({ schedule: "s9", until: "soon", createdAt: "now" }),
        );
        await expect(state.listSilences()).rejects.toMatchObject({ code: "state-corrupt" });
        await store.delete("state/silences/s9.json");
      });

      it("refuses to write a malformed record", async () => {
        await expect(
          state.setSilence({ schedule: "w", until: "not a time", createdAt: "2026-03-01T00:00:00Z" }),
        ).rejects.toMatchObject({ code: "invalid-state-record" });
      });
    });
  });
}

stateStoreSuite("StateStore on MemoryStore", async () => new MemoryStore("state"));

describe("StateStore on LocalFolderStore", () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  stateStoreSuite("local folder", async () => {
    dir = await mkdtemp(join(tmpdir(), "kb-state-"));
    return new LocalFolderStore(dir);
  });
});

describeWithMoto("StateStore on S3Store (moto)", () => {
  stateStoreSuite("s3", async () => {
    const s3 = motoS3();
    const bucket = uniqueBucketName("state");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return new S3Store({ bucket, prefix: "kots-backup/prod", client: s3 });
  });
});

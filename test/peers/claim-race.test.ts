// 50 separate Node processes claim the same slot at the same moment: exactly one may win, on S3 (moto)
// and on a local folder. Each process has its own client and its own view of the store, as two
// Lambdas or two daemons would.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { StateStore } from "../../packages/adapters/src/state/state-store.ts";
import { LocalFolderStore } from "../../packages/adapters/src/store/local-folder.ts";
import { S3Store } from "../../packages/adapters/src/store/s3.ts";
import { describeWithMoto, motoEndpoint, motoS3, uniqueBucketName } from "../support/peers.ts";

const WORKERS = 50;
const WORKER = join(import.meta.dirname, "workers", "claim-slot.ts");
const SLOT = "2026-03-01T02:00:00Z";
/** 50 Node processes starting at once: tens of seconds of CPU, which a loaded 2-core machine stretches. */
const RACE_TIMEOUT_MS = 360_000;

interface Outcome {
  id: number;
  claimedAt: string;
  won?: boolean;
  existing?: { claimedAt: string };
  error?: string;
}

async function race(store: object, schedule: string): Promise<Outcome[]> {
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const results: Promise<Outcome>[] = [];
  for (let id = 0; id < WORKERS; id++) {
    const child = spawn(process.execPath, [WORKER, JSON.stringify({ store, schedule, slot: SLOT, id })], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    const iterator = lines[Symbol.asyncIterator]();
    ready.push(
      iterator.next().then((first) => {
        if (first.value !== "ready") throw new Error(`worker ${id} did not start: ${String(first.value)}`);
      }),
    );
    results.push(
      (async () => {
        await ready[id];
        const line = await iterator.next();
        lines.close();
        if (line.done) throw new Error(`worker ${id} exited without a result`);
        return JSON.parse(line.value) as Outcome;
      })(),
    );
  }
  try {
    await Promise.all(ready);
    for (const child of children) child.stdin!.write("go\n");
    return await Promise.all(results);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function expectOneWinner(outcomes: Outcome[], stored: string | undefined) {
  expect(outcomes.filter((o) => o.error)).toEqual([]);
  const winners = outcomes.filter((o) => o.won);
  expect(winners).toHaveLength(1);
  const winner = winners[0]!;
  expect(stored).toBe(winner.claimedAt);
  for (const o of outcomes) if (!o.won) expect(o.existing?.claimedAt).toBe(winner.claimedAt);
}

describe("claimSlot from 50 processes", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("LocalFolderStore: exactly one winner", { timeout: RACE_TIMEOUT_MS }, async () => {
    dir = await mkdtemp(join(tmpdir(), "kb-race-"));
    const outcomes = await race({ kind: "local", dir }, "nightly");
    const stored = await new StateStore(new LocalFolderStore(dir)).readClaim("nightly", SLOT);
    expectOneWinner(outcomes, stored?.value.claimedAt);
  });
});

describeWithMoto("claimSlot from 50 processes on moto", () => {
  it("S3Store: exactly one winner", { timeout: RACE_TIMEOUT_MS }, async () => {
    const bucket = uniqueBucketName("race");
    await motoS3().send(new CreateBucketCommand({ Bucket: bucket }));
    const outcomes = await race({ kind: "s3", endpoint: motoEndpoint(), bucket, prefix: "race" }, "nightly");
    const stored = await new StateStore(new S3Store({ bucket, prefix: "race", client: motoS3() })).readClaim(
      "nightly",
      SLOT,
    );
    expectOneWinner(outcomes, stored?.value.claimedAt);
  });
});

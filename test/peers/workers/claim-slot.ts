// A separate process that claims one slot: started 50 times at once by claim-race.test.ts.
// argv[2]: JSON { store: { kind: "s3", endpoint, bucket, prefix } | { kind: "local", dir }, schedule, slot, id }.
// Prints "ready", waits for "go" on stdin (so all processes fire together), claims, prints the result as JSON.
import { createInterface } from "node:readline";
import { S3Client } from "@aws-sdk/client-s3";
import type { ObjectStore } from "@kots-backup/core";
import { StateStore } from "../../../packages/adapters/src/state/state-store.ts";
import { LocalFolderStore } from "../../../packages/adapters/src/store/local-folder.ts";
import { S3Store } from "../../../packages/adapters/src/store/s3.ts";

interface WorkerInput {
  store: { kind: "s3"; endpoint: string; bucket: string; prefix: string } | { kind: "local"; dir: string };
  schedule: string;
  slot: string;
  id: number;
}

const input = JSON.parse(process.argv[2] ?? "{}") as WorkerInput;
const store: ObjectStore =
  input.store.kind === "s3"
    ? new S3Store({
        bucket: input.store.bucket,
        prefix: input.store.prefix,
        client: new S3Client({
          endpoint: input.store.endpoint,
          region: "us-east-1",
          forcePathStyle: true,
          credentials: { accessKeyId: "testing-access-key", secretAccessKey: "testing-secret-key" },
        }),
      })
    : new LocalFolderStore(input.store.dir);
const state = new StateStore(store);
const claimedAt = new Date(Date.UTC(2026, 2, 1, 2, 0, 0) + input.id * 1000)
  .toISOString()
  .replace(/\.\d{3}Z$/, "Z");

const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\n");
for await (const line of lines) {
  if (line.trim() !== "go") continue;
  try {
    const result = await state.claimSlot(input.schedule, input.slot, {
      schedule: input.schedule,
      slot: input.slot,
      claimedAt,
    });
    process.stdout.write(`${JSON.stringify({ id: input.id, claimedAt, ...result })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ id: input.id, error: String(error) })}\n`);
  }
  break;
}
lines.close();

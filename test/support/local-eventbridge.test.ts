// The local EventBridge (local-eventbridge.ts) answers the AWS SDK's PutEvents as EventBridge does, so
// that a product bug (an unknown bus, a malformed entry, a call to another operation) fails on it too.
import { EventBridgeClient, ListRulesCommand, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliver } from "../../packages/adapters/src/alerts/channel.ts";
import { eventBridgeChannel } from "../../packages/adapters/src/alerts/eventbridge.ts";
import { backupCompleted, checkDown } from "../channels/fixtures.ts";
import { type LocalEventBridge, startLocalEventBridge } from "./local-eventbridge.ts";
import { AWS_TEST_CREDENTIALS, AWS_TEST_REGION } from "./peers.ts";

describe("local EventBridge", () => {
  let bus: LocalEventBridge;
  let client: EventBridgeClient;
  beforeAll(async () => {
    bus = await startLocalEventBridge();
    bus.createBus("kb-local");
    client = new EventBridgeClient({
      endpoint: bus.endpoint,
      region: AWS_TEST_REGION,
      credentials: AWS_TEST_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    await bus?.close();
  });

  it("records what the SDK puts, as the envelope a rule's target receives", async () => {
    const channel = eventBridgeChannel({ client, busName: "kb-local" });
    await channel.send(checkDown);
    await channel.send(backupCompleted);
    const events = await bus.take("kb-local", 2);
    expect(events).toEqual([
      expect.objectContaining({
        version: "0",
        source: "kots-backup",
        "detail-type": "Check Down",
        time: checkDown.time,
        detail: checkDown.detail,
        account: "123456789012",
        region: AWS_TEST_REGION,
      }),
      expect.objectContaining({ "detail-type": "Backup Completed", detail: backupCompleted.detail }),
    ]);
    expect(await bus.take("kb-local")).toEqual([]); // taken once
  });

  it("fails a put to a bus that does not exist, naming the bus (as moto does)", async () => {
    const channel = eventBridgeChannel({ client, busName: "kb-absent" });
    const [result] = await deliver([channel], checkDown, {
      sleep: async () => {},
      policy: { maxAttempts: 1 },
    });
    expect(result?.ok).toBe(false);
    expect(result?.error).toContain("kb-absent");
  });

  it("rejects entries without a source or with a detail that is not a JSON object, keeping the others", async () => {
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: "kots-backup", DetailType: "Check Down", Detail: "not json", EventBusName: "kb-local" },
          { DetailType: "Check Down", Detail: "{}", EventBusName: "kb-local" },
          { Source: "kots-backup", DetailType: "Check Up", Detail: '{"a":1}', EventBusName: "kb-local" },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.map((e) => e.ErrorCode ?? "ok")).toEqual([
      "MalformedDetail",
      "InvalidArgument",
      "ok",
    ]);
    expect((await bus.take("kb-local")).map((e) => e.detail)).toEqual([{ a: 1 }]);
  });

  it("refuses any other operation, naming it", async () => {
    await expect(client.send(new ListRulesCommand({}))).rejects.toMatchObject({
      name: "UnknownOperationException",
      message: expect.stringContaining("AWSEvents.ListRules"),
    });
  });
});

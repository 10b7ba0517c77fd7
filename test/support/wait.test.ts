import { describe, expect, it, TestRunner } from "vitest";
import { eventually, waitDeadline } from "./wait.ts";

describe("eventually", () => {
  it("is bounded by the test's timeout, not by a count of polls", { timeout: 12_000 }, async () => {
    const started = TestRunner.getCurrentTest()?.result?.startTime ?? 0;
    expect(waitDeadline() - started).toBe(10_000);
    let polls = 0;
    await eventually(() => ++polls > 600, "600 polls", 0);
    expect(polls).toBe(601);
  });

  it("gives up shortly before the test times out, naming what it waited for", {
    timeout: 1_000,
  }, async () => {
    await expect(eventually(() => false, "a condition that never holds")).rejects.toThrow(
      /waiting for: a condition that never holds$/,
    );
  });

  it("waits on an async condition", async () => {
    let n = 0;
    await eventually(async () => ++n === 3, "the third check");
    expect(n).toBe(3);
  });
});

// The retry policy (packages/adapters/src/retry.ts): numbers, jitter bounds, Retry-After, give-up rules.
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  type RetryDecision,
  withRetry,
} from "@kots-backup/adapters/retry";
import { describe, expect, it } from "vitest";

const retryAll = (): RetryDecision => ({ retry: true });

describe("withRetry", () => {
  it("makes at most 5 attempts with full-jitter delays bounded by 250 ms × 2^n, capped at 8 s", async () => {
    const delays: number[] = [];
    let attempts = 0;
    await expect(
      withRetry(
        async () => {
          attempts += 1;
          throw new Error("down");
        },
        { classify: retryAll, random: () => 0.999_999, sleep: async (ms) => void delays.push(ms) },
      ),
    ).rejects.toThrow("down");
    expect(attempts).toBe(DEFAULT_RETRY_POLICY.maxAttempts);
    expect(delays).toEqual([249, 499, 999, 1999]);
    expect(backoffDelay(10, DEFAULT_RETRY_POLICY, () => 0.999_999)).toBe(7999);
    expect(backoffDelay(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
  });

  it("honours Retry-After instead of the computed delay, and gives up on one longer than 30 s", async () => {
    const delays: number[] = [];
    let attempts = 0;
    const result = await withRetry(
      async () => {
        attempts += 1;
        if (attempts < 3) throw new Error("throttled");
        return "ok";
      },
      { classify: () => ({ retry: true, retryAfterMs: 2_000 }), sleep: async (ms) => void delays.push(ms) },
    );
    expect(result).toBe("ok");
    expect(delays).toEqual([2_000, 2_000]);

    let tries = 0;
    await expect(
      withRetry(
        async () => {
          tries += 1;
          throw new Error("go away");
        },
        { classify: () => ({ retry: true, retryAfterMs: 120_000 }), sleep: async () => {} },
      ),
    ).rejects.toThrow("go away");
    expect(tries).toBe(1);
  });

  it("does not retry what classify refuses", async () => {
    let attempts = 0;
    await expect(
      withRetry(
        async () => {
          attempts += 1;
          throw new Error("bad request");
        },
        { classify: () => ({ retry: false }), sleep: async () => {} },
      ),
    ).rejects.toThrow("bad request");
    expect(attempts).toBe(1);
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3_000);
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:28:10 GMT", Date.parse("2026-10-21T07:28:00Z"))).toBe(10_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

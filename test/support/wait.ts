// Waiting in tests: on a condition, never on a count of tries or a fixed pause. CI shares a busy
// machine, so a wait is bounded only by the running test's own timeout: it gives up shortly before
// it, so the failure names what was awaited rather than just "test timed out".
import { TestRunner } from "vitest";

export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Outside a test (a hook), the bound: vitest.config.ts's hookTimeout. */
const OUTSIDE_A_TEST_MS = 60_000;

/**
 * Epoch ms at which waits in the running test give up: its timeout after it started, less 10 % (at
 * least 2 s), the time left to report.
 */
export function waitDeadline(): number {
  const test = TestRunner.getCurrentTest();
  const started = test?.result?.startTime ?? Date.now();
  const timeout = test?.timeout ?? OUTSIDE_A_TEST_MS;
  return started + timeout - Math.max(0.1 * timeout, 2_000);
}

/** Polls `condition` every `intervalMs` until it holds; throws naming `what` at the test's deadline. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  intervalMs = 10,
): Promise<void> {
  const deadline = waitDeadline();
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`gave up (the test's time is nearly out) waiting for: ${what}`);
    await pause(intervalMs);
  }
}

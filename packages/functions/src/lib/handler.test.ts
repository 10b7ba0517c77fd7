import { InputError } from "@kots-backup/core";
import type { Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { lambdaHandler } from "./handler.ts";

function lambdaContext(remainingMs = 60_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "kots-backup-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:kots-backup-test",
    memoryLimitInMB: "512",
    awsRequestId: "req-1",
    logGroupName: "/aws/lambda/kots-backup-test",
    logStreamName: "stream",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Powertools writes JSON lines to stdout, and errors to stderr. */
function captureOutput(): string[] {
  const lines: string[] = [];
  const record = (chunk: string | Uint8Array) => {
    lines.push(
      ...String(chunk)
        .split("\n")
        .filter((l) => l.startsWith("{")),
    );
    return true;
  };
  vi.spyOn(process.stdout, "write").mockImplementation(record);
  vi.spyOn(process.stderr, "write").mockImplementation(record);
  return lines;
}

describe("lambdaHandler", () => {
  afterEach(() => vi.restoreAllMocks());

  it("runs the work through middy with the Powertools logger bound to the Lambda context", async () => {
    const lines = captureOutput();
    const handler = lambdaHandler(async (event: { n: number }, { logger }) => {
      logger.info("working", { n: event.n });
      return { doubled: event.n * 2 };
    });

    const result = await handler({ n: 21 }, lambdaContext());

    expect(result).toEqual({ doubled: 42 });
    const logLine = lines.map((l) => JSON.parse(l)).find((l) => l.message === "working");
    expect(logLine).toMatchObject({
      level: "INFO",
      service: "kots-backup",
      function_name: "kots-backup-test",
      function_request_id: "req-1",
      n: 21,
    });
  });

  it("logs a product error as structured JSON and still fails the invocation", async () => {
    const lines = captureOutput();
    const handler = lambdaHandler(async () => {
      throw new InputError("invalid-event", "action must be one of backup, ls", { field: "action" });
    });

    await expect(handler({}, lambdaContext())).rejects.toThrow("action must be one of backup, ls");
    const errorLine = lines.map((l) => JSON.parse(l)).find((l) => l.level === "ERROR");
    expect(errorLine?.error).toMatchObject({ code: "invalid-event", field: "action" });
  });

  it("aborts the signal before the Lambda deadline so work can stop cleanly", async () => {
    captureOutput();
    const handler = lambdaHandler(
      async (_event: unknown, { signal }) => {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        return { stoppedEarly: signal.aborted };
      },
      { earlyTimeoutMs: 1_500 },
    );

    await expect(handler({}, lambdaContext(1_600))).resolves.toEqual({ stoppedEarly: true });
  });
});

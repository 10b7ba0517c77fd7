import { describe, expect, it } from "vitest";
import { capturedOutput } from "./capture.ts";

describe("output capture", () => {
  it("records lines written to stdout, stderr and the console for later scans", () => {
    const marker = `capture-marker-${process.pid}-${Date.now()}`;
    process.stdout.write(`${marker}-stdout\n`);
    process.stderr.write(`${marker}-stderr\n`);
    console.warn(`${marker}-console`);

    const recorded = capturedOutput();

    expect(recorded).toContain(`${marker}-stdout`);
    expect(recorded).toContain(`${marker}-stderr`);
    expect(recorded).toContain(`${marker}-console`);
  });
});

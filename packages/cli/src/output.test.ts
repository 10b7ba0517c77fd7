import { PassThrough } from "node:stream";
import { InputError } from "@kots-backup/core/errors";
import { describe, expect, it } from "vitest";
import { createOutput, reportError } from "./output.ts";

function streams() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => {
    text.out += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    text.err += c.toString();
  });
  return { streams: { stdout, stderr }, text };
}

const HOSTILE = "hooks failed\r\nerror: forged\u001b]0;pwned\u0007\u202e";

describe("human output", () => {
  it("writes each log entry as one escaped line, message and fields alike", () => {
    const { streams: s, text } = streams();
    createOutput(false, s).log("warn", `Backup Failed: ${HOSTILE}`, { detail: HOSTILE, count: 2 });
    expect(text.err.replace(/^\S+Z /, "")).toBe(
      "warn: Backup Failed: hooks failed\\r\\nerror: forged\\u001b]0;pwned\\u0007\\u202e " +
        "detail=hooks failed\\r\\nerror: forged\\u001b]0;pwned\\u0007\\u202e count=2\n",
    );
  });

  it("keeps a renderer's own lines, and escapes what is inside them", () => {
    const { streams: s, text } = streams();
    createOutput(false, s).result({}, () => "NAME  PHASE\nx\u001b[2J  Completed");
    expect(text.out).toBe("NAME  PHASE\nx\\u001b[2J  Completed\n");
  });

  it("escapes an error's message and fix; JSON keeps them exact", () => {
    const error = new InputError("bad", `schedule: ${HOSTILE}`, { fix: `use\n${HOSTILE}` });
    const human = streams();
    reportError(error, false, human.streams);
    expect(human.text.err.split("\n")).toHaveLength(3); // error line, fix line, final newline
    for (const raw of ["\u001b", "\r", "\u0007", "\u202e"]) expect(human.text.err).not.toContain(raw);
    const json = streams();
    reportError(error, true, json.streams);
    expect(JSON.parse(json.text.out).error.message).toBe(`schedule: ${HOSTILE}`);
  });
});

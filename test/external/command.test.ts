// `command` recovery points: real executables in a temp folder (no shell between us and them).
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { externalObserver } from "@kots-backup/adapters/external/index";
import { parseConfig } from "@kots-backup/core/config";
import { InputError } from "@kots-backup/core/errors";
import { evaluateExternal } from "@kots-backup/core/external";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "kb-external-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

function point(command: string[], extra: Record<string, unknown> = {}) {
  const [p] = parseConfig({
    external: [{ kind: "command", name: "redis-rdb", app: "orders", period: "6h", command, ...extra }],
  }).external;
  if (p?.kind !== "command") throw new Error("not command");
  return p;
}
const look = (p: ReturnType<typeof point>, now = new Date()) =>
  externalObserver([p], { allowCommand: true })(p, now);

describe("external command", () => {
  it("exit 0 and an ISO time on the first line: that is the newest recovery point (arguments passed as is)", async () => {
    const path = script("newest", 'echo "$1"\necho "anything after the first line is ignored"');
    const observation = await look(
      point([path, "2026-06-10T09:30:00+02:00"]),
      new Date("2026-06-10T12:00:00Z"),
    );
    expect(observation).toEqual({
      reachable: true,
      newestAt: "2026-06-10T07:30:00Z",
      newestId: "2026-06-10T09:30:00+02:00",
      detail: "newest recovery point 2026-06-10T09:30:00+02:00 at 2026-06-10T07:30:00Z",
    });
  });

  it.each([
    ["a non-zero exit", "echo 2026-06-10T09:30:00Z; exit 3", /newest-\w+ exited 3$/],
    [
      "garbage",
      "echo 'last dump: yesterday'",
      /printed no ISO time on its first line \(got "last dump: yesterday"\)$/,
    ],
    ["nothing", "true", /printed no ISO time on its first line \(got nothing\)$/],
    ["a date without a zone", "echo 2026-06-10T09:30:00", /printed no ISO time/],
    [
      "a control character",
      "printf '2026-06-10T09:30:00Z\\033[2J\\n'",
      /got "2026-06-10T09:30:00Z\\u001b\[2J"/,
    ],
  ])("%s is unreachable (down after grace), naming the executable", async (_what, body, detail) => {
    const path = script(`newest-${Math.random().toString(36).slice(2, 8)}`, body);
    const observation = await look(point([path]));
    expect(observation.reachable).toBe(false);
    expect(observation.detail).toMatch(detail);
    expect(observation.detail.startsWith(path)).toBe(true);
  });

  it("a time in the future counts for nothing: clock-skew", async () => {
    const path = script("future", "echo 2030-01-01T00:00:00Z");
    const now = new Date("2026-06-10T12:00:00Z");
    const observation = await look(point([path]), now);
    expect(observation).toMatchObject({ reachable: true, futureDated: true });
    expect(observation.newestAt).toBeUndefined();
    expect(evaluateExternal(point([path]), observation, now).reasons).toEqual(["clock-skew"]);
  });

  it("a command that hangs is ended at its timeout, with what it started", async () => {
    const pidFile = join(dir, "child.pid");
    const path = script("hangs", `sleep 30 &\necho $! > ${pidFile}\nwait`);
    const started = Date.now();
    const observation = await look(point([path], { timeout: "1s" }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(observation).toEqual({ reachable: false, detail: `${path} did not finish within 1s` });
    const child = Number(readFileSync(pidFile, "utf8"));
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie waiting for whoever adopted it: not running either way.
    const stat = existsSync(`/proc/${child}/stat`) ? readFileSync(`/proc/${child}/stat`, "utf8") : "";
    expect(stat === "" || / Z /.test(stat)).toBe(true);
  });

  it("a missing or non-executable file cannot be started", async () => {
    expect((await look(point([join(dir, "absent")]))).detail).toMatch(/could not be started \(ENOENT\)$/);
    const plain = script("plain", "echo 2026-06-10T09:30:00Z", 0o644);
    expect((await look(point([plain]))).detail).toMatch(/could not be started \(EACCES\)$/);
  });

  it("reads at most 4 KiB of output and never stderr", async () => {
    const path = script(
      "chatty",
      "echo 2026-06-10T09:30:00Z\nhead -c 1000000 /dev/zero | tr '\\0' x\necho secret-token >&2",
    );
    const observation = await look(point([path]), new Date("2026-06-10T12:00:00Z"));
    expect(observation.newestAt).toBe("2026-06-10T09:30:00Z");
    expect(JSON.stringify(observation)).not.toContain("secret-token");
  });

  it("is refused where it cannot run (Lambda), naming the field, before anything runs", () => {
    const marker = join(dir, "ran");
    const path = script("marks", `touch ${marker}; echo 2026-06-10T09:30:00Z`);
    const points = [point([path])];
    let error: unknown;
    try {
      externalObserver(points, { allowCommand: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe("external[0].kind");
    expect((error as InputError).message).toContain("command cannot run on AWS Lambda");
    expect(existsSync(marker)).toBe(false);
  });
});

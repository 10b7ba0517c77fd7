// `kots-backup silence external:<name>` / `unsilence`: an external recovery point is silenced like a
// schedule, by its check name, and an unknown one is refused naming the known checks.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams } from "../backup/support.ts";

async function cli(args: string[]) {
  const io = captureStreams();
  const code = await main(args, io.streams);
  return { code, stdout: io.stdout() };
}

describe("silence an external recovery point", () => {
  it("by its check name, stored beside the schedules' silences", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-external-silence-"));
    const config = join(dir, "kots-backup.yaml");
    writeFileSync(
      config,
      [
        `export: { destination: "file://${join(dir, "data")}" }`,
        "schedules: [{ name: nightly, cron: '0 2 * * *' }]",
        "external: [{ kind: rds, name: orders-db, app: orders, period: 1d, instance: orders }]",
      ].join("\n"),
    );
    const ok = await cli(["--config", config, "--json", "silence", "external:orders-db", "--for", "2h"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ schedule: "external:orders-db" });
    expect(existsSync(join(dir, "data", "state", "silences", "external", "orders-db.json"))).toBe(true);

    const unknown = await cli(["--config", config, "--json", "silence", "external:nope", "--for", "1h"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({
      code: "unknown-schedule",
      fix: "use one of: nightly, external:orders-db",
    });

    const un = await cli(["--config", config, "--json", "unsilence", "external:orders-db"]);
    expect(JSON.parse(un.stdout)).toMatchObject({ schedule: "external:orders-db", silenced: false });
    expect(existsSync(join(dir, "data", "state", "silences", "external", "orders-db.json"))).toBe(false);
  });
});

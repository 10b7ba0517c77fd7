// `export --latest` follows the schedule or the type it is asked for: full backups by default (an app
// backup never stands in for the instance one), `--schedule <name>` for that schedule's kind, `--type
// partial --app <slug>` for an app's. The choice is core's (reconcile.ts, next to exportCandidates);
// the engine, the CLI and the on-demand event use it. Bad input fails before anything is read.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import "@kots-backup/cli/commands/index";
import { main } from "@kots-backup/cli/program";
import { parseOnDemandEvent } from "@kots-backup/core/on-demand-event";
import { aSummary } from "@kots-backup/core/testing";
import { latestKindOf, newestToExport } from "@kots-backup/core/usecases/reconcile";
import { afterEach, describe, expect, it } from "vitest";
import { captureStreams } from "../backup/support.ts";
import {
  caught,
  type ExportEnv,
  localDestination,
  openExportEnv,
  removeTempFolders,
  tempFolder,
} from "./support.ts";

let env: ExportEnv | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
  removeTempFolders();
});

const now = new Date("2026-11-24T12:00:00Z");
const schedules = [
  { name: "nightly", type: "full" as const },
  { name: "app-hourly", type: "partial" as const, app: "my-app" },
];

describe("newestToExport and latestKindOf (core)", () => {
  const backups = [
    aSummary("full-new", { requestedAt: "2026-11-24T02:00:00Z" }),
    aSummary("app-newer", { type: "partial", app: "my-app", requestedAt: "2026-11-24T11:00:00Z" }),
    aSummary("full-pf", { requestedAt: "2026-11-24T04:00:00Z", phase: "PartiallyFailed" }),
    aSummary("full-2099", { requestedAt: "2099-01-01T00:00:00Z" }),
  ];
  const names = new Set(backups.map((b) => b.name));

  it("takes the newest Completed backup of the kind asked, never one dated in the future", () => {
    expect(newestToExport(backups, { type: "full" }, names, false, now)?.name).toBe("full-new");
    expect(newestToExport(backups, { type: "full" }, names, true, now)?.name).toBe("full-pf");
    expect(newestToExport(backups, { type: "partial", app: "my-app" }, names, false, now)?.name).toBe(
      "app-newer",
    );
    expect(newestToExport(backups, { type: "partial", app: "other" }, names, false, now)).toBeUndefined();
  });

  it("reads the kind from --schedule or --type/--app, full by default, and names the bad field", () => {
    expect(latestKindOf(schedules, { latest: true })).toEqual({ type: "full" });
    expect(latestKindOf(schedules, { latest: true, schedule: "app-hourly" })).toEqual({
      type: "partial",
      app: "my-app",
    });
    expect(latestKindOf(schedules, { latest: true, type: "partial", app: "my-app" })).toEqual({
      type: "partial",
      app: "my-app",
    });
    expect(latestKindOf(schedules, {})).toBeUndefined();
    const bad: [Parameters<typeof latestKindOf>[1], string][] = [
      [{ latest: true, schedule: "nope" }, "--schedule"],
      [{ latest: true, schedule: "nightly", type: "full" }, "--type"],
      [{ latest: true, type: "partial" }, "--app"],
      [{ latest: true, app: "my-app" }, "--app"],
      [{ schedule: "nightly" }, "--schedule"],
      [{ type: "full" }, "--type"],
    ];
    for (const [choice, field] of bad) {
      let error: unknown;
      try {
        latestKindOf(schedules, choice);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(choice)).toMatchObject({ exitCode: 2, field });
    }
  });
});

describe("the on-demand export event", () => {
  it('takes schedule, type and app with "backup": "latest" only', () => {
    expect(parseOnDemandEvent({ action: "export", backup: "latest", schedule: "nightly" })).toMatchObject({
      schedule: "nightly",
    });
    expect(
      parseOnDemandEvent({ action: "export", backup: "latest", type: "partial", app: "my-app" }),
    ).toMatchObject({ type: "partial", app: "my-app" });
    const refused = (event: unknown) => {
      try {
        parseOnDemandEvent(event);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refused({ action: "export", backup: "instance-abc", schedule: "nightly" })).toMatchObject({
      field: "schedule",
    });
    expect(refused({ action: "export", backup: "latest", type: "partial" })).toMatchObject({ field: "app" });
    expect(refused({ action: "export", backup: "latest", schedule: "nightly", type: "full" })).toMatchObject({
      field: "type",
    });
  });
});

describe("export --latest against the sandbox", () => {
  it("the engine picks the newest full backup by default, not a newer app backup", async () => {
    env = await openExportEnv();
    const start = env.sandbox.clock.nowMs();
    await env.sandbox.scenario.addBackup({ name: "instance-full1", startedAt: new Date(start - 7_200_000) });
    await env.sandbox.scenario.addBackup({
      name: "my-app-part1",
      kind: "app",
      appSlug: "my-app",
      startedAt: new Date(start - 600_000),
    });
    const dest = localDestination();
    expect((await env.run({ latest: true }, dest)).backup).toBe("instance-full1");
    expect((await env.run({ latest: true, type: "partial", app: "my-app" }, dest)).backup).toBe(
      "my-app-part1",
    );
    expect(await caught(env.run({ latest: true, type: "partial", app: "other-app" }, dest))).toMatchObject({
      code: "no-completed-backup",
      exitCode: 2,
    });
  });

  it("the CLI's --schedule follows the schedule's kind, and bad flags exit 2 before anything is read", async () => {
    env = await openExportEnv();
    const start = env.sandbox.clock.nowMs();
    await env.sandbox.scenario.addBackup({ name: "instance-full2", startedAt: new Date(start - 7_200_000) });
    await env.sandbox.scenario.addBackup({
      name: "my-app-part2",
      kind: "app",
      appSlug: "my-app",
      startedAt: new Date(start - 600_000),
    });
    const folder = tempFolder();
    const config = join(tempFolder(), "kots-backup.json");
    writeFileSync(
      config,
      JSON.stringify({
        cluster: { name: "test" },
        export: { destination: `file://${folder}` },
        schedules: [
          { name: "nightly", cron: "0 2 * * *" },
          { name: "app-hourly", cron: "0 * * * *", type: "partial", app: "my-app" },
        ],
      }),
    );
    const cli = async (...args: string[]) => {
      const io = captureStreams();
      const code = await main(
        ["export", "--json", "--config", config, "--kubeconfig", env!.sandbox.kubeconfigPath, ...args],
        io.streams,
      );
      return { code, out: JSON.parse(io.stdout() || "{}") };
    };
    const byDefault = await cli("--latest");
    expect(byDefault).toMatchObject({ code: 0, out: { backup: "instance-full2" } });
    const bySchedule = await cli("--latest", "--schedule", "app-hourly");
    expect(bySchedule).toMatchObject({ code: 0, out: { backup: "my-app-part2" } });
    const byType = await cli("--latest", "--type", "partial", "--app", "my-app");
    expect(byType).toMatchObject({ code: 0, out: { backup: "my-app-part2", alreadyExported: true } });

    for (const [args, field] of [
      [["--latest", "--schedule", "nope"], "--schedule"],
      [["--latest", "--type", "partial"], "--app"],
      [["instance-full2", "--schedule", "nightly"], "--schedule"],
    ] as const) {
      const refused = await cli(...args);
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.out.error).toMatchObject({ field });
    }
  });
});

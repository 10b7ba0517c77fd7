// Pages carry the concrete names and commands: a Check Down for a failed backup names it and says
// `velero backup logs <that name>`, never a placeholder. The name comes from the cluster: a Kubernetes
// (DNS-1123) name is shown as is, anything else is quoted so that it can neither run nor break the line.
import { describeEvent, plainText } from "@kots-backup/adapters/alerts/messages";
import { slackMessage } from "@kots-backup/adapters/alerts/slack";
import type { KotsBackupEvent } from "@kots-backup/core";
import { shellArg } from "@kots-backup/core/runbook";
import { aBackup } from "@kots-backup/core/testing";
import { backupEndedEvent } from "@kots-backup/core/usecases/follow";
import { runVerify } from "@kots-backup/core/usecases/verify";
import { describe, expect, it } from "vitest";
import { at, harness, schedule, writeManifest } from "./support.ts";

const nightly = schedule({ name: "nightly", cron: "0 2 * * *" });

async function checkDown(setUp: (h: ReturnType<typeof harness>) => Promise<void>): Promise<KotsBackupEvent> {
  const h = harness();
  await runVerify([nightly], h.deps(at("2026-03-01T00:00:00Z")));
  await setUp(h);
  const run = await runVerify([nightly], h.deps(at("2026-03-02T08:00:00Z")));
  const event = run.transitions.flatMap((t) => t.events).find((e) => e.detailType === "Check Down");
  if (!event) throw new Error(`no Check Down: ${JSON.stringify(run.report)}`);
  return event;
}

const PLACEHOLDER = /<(name|backup|schedule)>/;

describe("a Check Down names the backup it is about", () => {
  it("failed: the failed backup's name in the event and in the velero commands", async () => {
    const event = await checkDown(async (h) => {
      const good = h.cluster.addFull("instance-good1", at("2026-03-01T02:00:00Z"));
      await writeManifest(h.destination, good, at("2026-03-01T02:30:00Z"));
      h.cluster.addFull("instance-bad22", at("2026-03-02T02:00:00Z"), "PartiallyFailed");
    });
    expect(event.detail).toMatchObject({
      reasons: ["failed"],
      backup: "instance-bad22",
      lastBackup: "instance-good1",
    });
    const text = describeEvent(event);
    expect(text.nextSteps.join("\n")).toContain("`velero backup logs instance-bad22`");
    expect(text.nextSteps.join("\n")).toContain("`velero backup describe instance-bad22 --details`");
    expect(text.facts).toContain("Last good backup: instance-good1 at 2026-03-01T02:10:00Z");
    for (const shown of [plainText(event), String(event.detail.message), JSON.stringify(slackMessage(event))])
      expect(shown).not.toMatch(PLACEHOLDER);
    expect(String(event.detail.message)).toContain("velero backup logs instance-bad22");
  });

  it("export-missing: the command to export the schedule's newest backup", async () => {
    const event = await checkDown(async (h) => {
      h.cluster.addFull("instance-unexp1", at("2026-03-02T02:00:00Z"));
    });
    expect(event.detail).toMatchObject({ reasons: ["export-missing"], backup: "instance-unexp1" });
    const steps = describeEvent(event).nextSteps.join("\n");
    expect(steps).toContain("`kots-backup export --latest --schedule nightly`");
    expect(plainText(event)).not.toMatch(PLACEHOLDER);
    expect(String(event.detail.message)).not.toMatch(PLACEHOLDER);
  });

  it("a name that is not a Kubernetes name is quoted: it cannot run a command or break the line", async () => {
    const weird = "x`id`$(reboot)';\nrm -rf /";
    const event = await checkDown(async (h) => {
      h.cluster.addFull(weird, at("2026-03-02T02:00:00Z"), "Failed");
    });
    expect(event.detail.backup).toBe(weird);
    const steps = describeEvent(event).nextSteps.join("\n");
    expect(steps).toContain(`velero backup logs ${shellArg(weird)}`);
    expect(shellArg(weird)).toBe("$'x\\x60id\\x60$(reboot)\\';\\nrm -rf /'");
    for (const line of [...describeEvent(event).nextSteps, String(event.detail.message)])
      expect(line).not.toMatch(/[\n\r]/);
  });
});

describe("Backup Failed", () => {
  it("core's message quotes a name that is not a Kubernetes name in its commands", () => {
    const weird = "bad\nname";
    const backup = aBackup(weird).instance().phase("Failed").completedAt(at("2026-03-02T02:10:00Z")).build();
    const event = backupEndedEvent("prod", backup, { schedule: "nightly" }, at("2026-03-02T02:11:00Z"));
    const message = String(event.detail.message);
    expect(message).toContain("`velero backup logs $'bad\\nname'`");
    expect(message).not.toMatch(/[\n\r]/);
    expect(describeEvent(event).nextSteps.join("\n")).toContain("`velero backup logs $'bad\\nname'`");
  });
});

describe("shellArg", () => {
  it("leaves DNS-1123 names as they are and ANSI-C-quotes anything else", () => {
    expect(shellArg("instance-abc12")).toBe("instance-abc12");
    expect(shellArg("gitguardian-2026.03.01")).toBe("gitguardian-2026.03.01");
    expect(shellArg("Upper")).toBe("$'Upper'");
    expect(shellArg("a b")).toBe("$'a b'");
    expect(shellArg("back\\slash")).toBe("$'back\\\\slash'");
    expect(shellArg("\u001b[31mred")).toBe("$'\\x1b[31mred'");
    expect(shellArg("é\u202e")).toBe("$'\\u00e9\\u202e'");
    expect(shellArg("")).toBe("''");
  });
});

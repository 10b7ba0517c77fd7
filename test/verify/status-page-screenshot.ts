// Renders the status page for a simulated week and saves docs/status-page.png with headless Chromium
// (Debian's `chromium`, driven by playwright-core; browser downloads do not work here). Run by hand:
//   node test/verify/status-page-screenshot.ts [/path/to/chromium]
// Not part of the suite: it needs a browser, and the picture is for a person to look at.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { slotsBetween } from "@kots-backup/core/schedule";
import { renderStatusPage, statusPageModel } from "@kots-backup/core/status-page";
import { evaluateFacts, gatherFacts } from "@kots-backup/core/usecases/verify";
import { chromium } from "playwright-core";
import { APP, harness, schedule, writeManifest } from "./support.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date("2026-10-27T09:40:00Z");
const from = now.getTime() - 7 * DAY;

const nightly = schedule({
  name: "nightly",
  cron: "0 2 * * *",
  timezone: "Europe/Paris",
  exportGrace: 2 * HOUR,
});
const hourly = schedule({
  name: "app-hourly",
  cron: "0 * * * *",
  timezone: "Europe/Paris",
  type: "partial",
  app: APP.slug,
  grace: 30 * 60_000,
  maxDuration: 45 * 60_000,
  export: false,
});
const weekly = schedule({
  name: "weekly-archive",
  cron: "30 3 * * 0",
  timezone: "Europe/Paris",
  paused: true,
});

const h = harness();
for (const slot of slotsBetween(nightly, new Date(from - DAY), now)) {
  const day = slot.toISOString().slice(0, 10);
  if (day === "2026-10-22") continue; // missed
  const name = `instance-${day.replaceAll("-", "")}`;
  const phase = day === "2026-10-24" ? "PartiallyFailed" : "Completed";
  const b = h.cluster.addFull(name, slot, phase, 14);
  if (phase === "Completed" && day !== "2026-10-27")
    await writeManifest(h.destination, b, new Date(slot.getTime() + 40 * 60_000), 734 * 1024 * 1024);
}
h.cluster.addFull("instance-manual-1022", new Date("2026-10-22T08:12:00Z"), "Completed", 12);
await writeManifest(
  h.destination,
  h.cluster.backups.at(-1)!,
  new Date("2026-10-22T08:40:00Z"),
  731 * 1024 * 1024,
);
for (const slot of slotsBetween(hourly, new Date("2026-10-22T12:00:00Z"), now)) {
  const at = slot.getTime();
  let phase = "Completed";
  if (at === Date.parse("2026-10-25T05:00:00Z")) phase = "Failed";
  if (at >= Date.parse("2026-10-23T08:00:00Z") && at < Date.parse("2026-10-23T12:00:00Z"))
    phase = "FailedValidation";
  h.cluster.addPartial(
    `${APP.slug}-${slot.toISOString().slice(0, 13).replaceAll(/[-T]/g, "")}`,
    slot,
    phase,
    3,
  );
}
const facts = await gatherFacts(h.deps(now), now, { readAllManifests: true });
facts.silences = [
  {
    schedule: "app-hourly",
    until: "2026-10-27T12:00:00Z",
    reason: "node upgrade",
    createdAt: "2026-10-27T09:00:00Z",
  },
];
const seen = (at: string) => ({ state: "up" as const, since: at, reasons: [], firstSeenAt: at });
const schedules = [nightly, hourly, weekly];
// app-hourly was added to the config on 2026-10-22: its slots before are drawn "not monitored".
const records = new Map([
  ["nightly", seen("2026-10-01T00:00:00Z")],
  ["app-hourly", seen("2026-10-22T12:00:00Z")],
  ["weekly-archive", seen("2026-10-01T00:00:00Z")],
]);
const { report } = evaluateFacts(facts, schedules, records);
const html = renderStatusPage(
  statusPageModel(facts, schedules, report.checks, {
    windowMs: 7 * DAY,
    destination: "s3://acme-kots-exports/prod",
    records,
  }),
);
const root = join(import.meta.dirname, "..", "..");
const htmlPath = join(root, ".test-output", "status-page.html");
mkdirSync(join(root, ".test-output"), { recursive: true });
writeFileSync(htmlPath, html);

const browser = await chromium.launch({
  executablePath: process.argv[2] ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1120, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`file://${htmlPath}`);
  await page.screenshot({ path: join(root, "docs", "status-page.png"), fullPage: true });
} finally {
  await browser.close();
}
process.stdout.write(`wrote ${htmlPath} and docs/status-page.png\n`);

// `npm run demo`: the whole job on the embedded default, narrated, in under two minutes.
//
// A SIMULATED KOTS cluster (the sandbox: Kubernetes API, kotsadm, Velero) on the wall clock, a local
// folder destination in a temp dir, and the real daemon in-process. The story:
//   1. a scheduled backup is taken through kotsadm, followed to Completed, exported and verified;
//   2. the simulated Velero is broken: the next scheduled backup fails, the check goes down and the
//      alert is delivered (to this terminal and to a local webhook receiver the demo starts);
//   3. Velero recovers: the next backup completes and the alert resolves (Check Up);
//   4. what the snapshot does not hold: the app's database dump (an external `command` recovery point,
//      a real script reading the time of the newest dump) goes stale when its cron stops, pages, and
//      recovers when the cron runs again;
//   5. the HTML status page is written and its path printed (with the app's recovery point);
//   6. the restore drill (`kots-backup drill`) reads each newest export as Velero's restore would.
// The demo's schedule fires every 10 seconds. The public config accepts only 5-field crons (what
// EventBridge Scheduler can run), so the config says `* * * * *` and the daemon's scheduler is given
// an internal 6-field croner override (`*/10 * * * * *`); verify still reads the config's cron.
// Stops by itself (or on Ctrl-C) and exits 0 when every step was seen, 1 otherwise.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Channel, channelsFromConfig } from "@kots-backup/adapters/alerts/index";
import { drillExport, newestExports } from "@kots-backup/adapters/drill/offline";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect } from "@kots-backup/adapters/kube/connection";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import type { KotsBackupEvent } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import { secondsCronSlots } from "@kots-backup/core/daemon-plan";
import { parseDuration } from "@kots-backup/core/duration";
import { recoverabilityByApp } from "@kots-backup/core/recoverability";
import { renderStatusPage, statusPageModel } from "@kots-backup/core/status-page";
import type { VerifyRun } from "@kots-backup/core/usecases/verify";
import { startSandbox } from "@kots-backup/sandbox";
import { stringify } from "yaml";
import { Daemon, type DaemonEvent } from "./daemon/daemon.ts";

// Gives up after 110 s, or KOTS_BACKUP_DEMO_DEADLINE (a duration): tests on a loaded machine allow more.
const DEADLINE_MS = deadlineMs(process.env["KOTS_BACKUP_DEMO_DEADLINE"]);
const SECONDS_CRON = "*/10 * * * * *";
const started = Date.now();
const write = (text: string) => process.stdout.write(`${text}\n`);
const elapsed = () => `+${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s`;
const say = (text: string) => write(`${elapsed()}  ${text}`);
const bar = "=".repeat(78);

// Ctrl-C at any point: stop what runs, clean up, exit 0.
const controller = new AbortController();
let outcome = "done" as "done" | "deadline" | "interrupted" | "drill-failed";
const interrupt = () => {
  outcome = "interrupted";
  controller.abort();
};
process.once("SIGINT", interrupt);
process.once("SIGTERM", interrupt);

write(bar);
write("  kots-backup demo - against a SIMULATED KOTS cluster (kotsadm + Velero are simulated;");
write("  no real cluster is touched). It stops by itself in under two minutes (Ctrl-C stops it too).");
write(bar);

const sandbox = await startSandbox({ clock: "real" });
sandbox.velero.defaultScript = { durationMs: 2_000 };
const dir = mkdtempSync(join(tmpdir(), "kots-backup-demo-"));
const dataDir = join(dir, "kots-backup-data");
mkdirSync(dataDir);

// A local webhook receiver: where the `webhook` alert channel posts.
const received: { detailType: string; schedule?: string; reasons?: string[] }[] = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk: Buffer) => {
    body += chunk.toString();
  });
  req.on("end", () => {
    try {
      const event = JSON.parse(body) as {
        detailType: string;
        detail: { schedule?: string; reasons?: string[] };
      };
      received.push({
        detailType: event.detailType,
        ...(event.detail.schedule ? { schedule: event.detail.schedule } : {}),
        ...(event.detail.reasons ? { reasons: event.detail.reasons } : {}),
      });
      say(
        `  [webhook receiver] POST ${req.url}: ${event.detailType}${event.detail.reasons?.length ? ` (${event.detail.reasons.join(", ")})` : ""}`,
      );
    } catch {
      say("  [webhook receiver] got a body that is not JSON");
    }
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/kots-backup-alerts`;
process.env["KOTS_BACKUP_DEMO_WEBHOOK_URL"] = webhookUrl;

// The app's database dump, outside the cluster: a "cron" (a timer here) writes the time of each new dump
// to a file, and the external `command` recovery point is a real script that prints it.
const dumpFile = join(dir, "newest-dump");
const dumpNow = () => writeFileSync(dumpFile, `${new Date().toISOString()}\n`);
dumpNow();
let dumpCron: NodeJS.Timeout | undefined = setInterval(dumpNow, 1_000);
const dumpProbe = join(dir, "newest-dump.sh");
writeFileSync(dumpProbe, `#!/bin/sh\nexec cat ${dumpFile}\n`);
chmodSync(dumpProbe, 0o755);
const DUMP_CHECK = "external:orders-dump";

const document = {
  cluster: { name: "demo", kubeconfig: sandbox.kubeconfigPath },
  schedules: [
    {
      name: "demo-full",
      cron: "* * * * *",
      type: "full",
      grace: "30s",
      maxDuration: "2m",
      exportGrace: "1m",
    },
  ],
  export: { destination: `file://${dataDir}` },
  alerts: { webhook: { url: "env:KOTS_BACKUP_DEMO_WEBHOOK_URL" } },
  daemon: { verifyInterval: "2s" },
  external: [
    { kind: "command", name: "orders-dump", app: "orders", command: [dumpProbe], period: "6s", grace: "4s" },
  ],
};
const configPath = join(dir, "kots-backup.yaml");
writeFileSync(configPath, stringify(document));
const config = parseConfig(document);

say(
  `SIMULATED cluster up: API ${sandbox.apiUrl}, kotsadm in namespace ${sandbox.namespaces.kotsadm}, Velero in ${sandbox.namespaces.velero}`,
);
say(`config      ${configPath}`);
say(`destination ${dataDir}`);
say(`alerts      this terminal, and a webhook receiver at ${webhookUrl}`);
say(
  `schedule    demo-full: every 10 s (internal seconds-level override "${SECONDS_CRON}"; the config's cron is 5-field)`,
);
say(
  `external    orders-dump: ${dumpProbe} prints the newest dump's time (a dump every 1 s; period 6 s, grace 4 s)`,
);

const terminal: Channel = {
  name: "terminal",
  detailTypes: ["Check Down", "Check Up"],
  async send(event: KotsBackupEvent) {
    const down = event.detailType === "Check Down";
    write("");
    write(
      `  ${down ? "!!!!!!!!!!!!!!!! ALERT" : "~~~~~~~~~~~~~~~~ RESOLVED"}: ${event.detailType} ${event.detail.dedupKey}`,
    );
    write(`  ${event.detail.message ?? ""}`);
    write("");
  },
};
const channels = [...(await channelsFromConfig(config.alerts)), terminal];
const connection = await connect({ kind: "kubeconfig", file: sandbox.kubeconfigPath });
const cluster = new KubeKotsCluster(connection, { name: config.cluster.name });
const destination = new LocalFolderStore(dataDir);

type Stage = "first-backup" | "broken" | "recovering" | "dump-stale" | "dump-recovering" | "done";
let stage: Stage = "first-backup";
const seen = {
  completed: "",
  exported: "",
  failed: "",
  down: false,
  up: false,
  recovered: "",
  dumpDown: false,
  dumpUp: false,
};
const delivered = (detailType: string, check: string) =>
  received.some((r) => r.detailType === detailType && r.schedule === check);
let lastRun: VerifyRun | undefined;

const onEvent = (event: DaemonEvent) => {
  switch (event.type) {
    case "started":
      say(`daemon started (in-process); /metrics on 127.0.0.1:${event.metricsPort}`);
      break;
    case "slot":
      say(`slot ${event.slot} of schedule ${event.schedule} is due: asking kotsadm for a backup`);
      break;
    case "phase":
      say(`  backup ${event.backup}: ${event.phase}`);
      break;
    case "event": {
      const e = event.event;
      if (e.detailType === "Backup Started")
        say(`  Backup Started: ${e.detail.backup} (POST /api/v1/snapshot/backup through the port-forward)`);
      else if (e.detailType === "Backup Completed") {
        say(`  Backup Completed: ${e.detail.backup}`);
        if (stage === "first-backup") seen.completed = String(e.detail.backup);
        if (stage === "recovering") seen.recovered = String(e.detail.backup);
      } else if (e.detailType === "Backup Failed") {
        say(`  Backup Failed: ${e.detail.message ?? e.detail.backup}`);
        if (stage === "broken") seen.failed = String(e.detail.backup);
      } else if (e.detailType === "Backup Skipped") say(`  Backup Skipped: ${e.detail.message ?? ""}`);
      break;
    }
    case "export-started":
      say(
        `  exporting ${event.backup} to the local folder (DownloadRequests, then checksums, manifest last)`,
      );
      break;
    case "export-completed":
      say(
        `  exported and verified ${event.result.backup}: ${event.result.objects} objects, ${event.result.bytes} bytes, manifest ${event.result.manifestKey}`,
      );
      seen.exported = event.result.backup;
      break;
    case "export-failed":
      say(`  export of ${event.backup} FAILED: ${event.error}`);
      break;
    case "verify": {
      lastRun = event.run;
      const check = event.run.report.checks[0];
      if (!check) break;
      const reasons = check.reasons.length ? ` (${check.reasons.join(", ")})` : "";
      if (
        stage === "first-backup" &&
        seen.exported &&
        seen.exported === seen.completed &&
        check.state === "up"
      ) {
        say(
          `verify: check demo-full is ${check.state}; last success ${check.lastSuccessAt}, last export ${check.lastExportAt}`,
        );
        say(
          "STEP 1 done: a scheduled backup was taken through kotsadm, followed to Completed, exported and verified.",
        );
        write("");
        say("STEP 2: breaking the SIMULATED Velero: its next backup will end Failed.");
        sandbox.velero.scriptNext({
          outcome: "Failed",
          durationMs: 2_000,
          failureReason: "SIMULATED: the object store refused the upload",
        });
        stage = "broken";
      } else if (stage === "broken" && check.state === "down") {
        if (!seen.down) say(`verify: check demo-full is DOWN${reasons} since ${check.since}`);
        seen.down = true;
        const delivered = received.some((r) => r.detailType === "Check Down");
        if (delivered) {
          say(
            "STEP 2 done: the failed slot took the check down and the alert reached the terminal and the webhook.",
          );
          write("");
          say(
            "STEP 3: Velero recovers (the simulated fault is gone); waiting for the next scheduled backup.",
          );
          stage = "recovering";
        }
      } else if (stage === "recovering" && check.state === "up") {
        if (!seen.up) say(`verify: check demo-full is up again (the newest backup no longer failed)`);
        seen.up = true;
        const resolved = received.some((r) => r.detailType === "Check Up");
        if (resolved && seen.recovered && seen.exported === seen.recovered && check.lastSuccessAt) {
          say(`verify: last success ${check.lastSuccessAt}, last export ${check.lastExportAt}`);
          say(
            "STEP 3 done: the next backup completed and was exported; the alert resolved (Check Up delivered).",
          );
          write("");
          say("STEP 4: the app's database dump cron stops: its external recovery point goes stale.");
          clearInterval(dumpCron);
          dumpCron = undefined;
          stage = "dump-stale";
        }
      } else if (stage === "dump-stale" || stage === "dump-recovering") {
        const dump = event.run.report.checks.find((c) => c.name === DUMP_CHECK);
        const dumpReasons = dump?.reasons.length ? ` (${dump.reasons.join(", ")})` : "";
        if (stage === "dump-stale" && dump?.state === "down") {
          if (!seen.dumpDown)
            say(`verify: check ${DUMP_CHECK} is DOWN${dumpReasons}; newest dump ${dump.lastSuccessAt}`);
          seen.dumpDown = true;
          if (delivered("Check Down", DUMP_CHECK)) {
            say("  the dump cron runs again.");
            dumpNow();
            dumpCron = setInterval(dumpNow, 1_000);
            stage = "dump-recovering";
          }
        } else if (stage === "dump-recovering" && dump?.state === "up") {
          if (!seen.dumpUp) say(`verify: check ${DUMP_CHECK} is up again; newest dump ${dump.lastSuccessAt}`);
          seen.dumpUp = true;
          if (delivered("Check Up", DUMP_CHECK)) {
            say(
              "STEP 4 done: the stale dump paged once (Check Down) and resolved once (Check Up), like a schedule.",
            );
            stage = "done";
            controller.abort();
          }
        }
      }
      break;
    }
    case "error":
      say(`  (daemon) ${event.where}: ${event.message}`);
      break;
    default:
      break;
  }
};

const daemon = new Daemon({
  config,
  cluster,
  destination,
  channels,
  log: (level, message) => {
    if (level === "error") say(`  (daemon error) ${message}`);
  },
  onEvent,
  slotSource: () => secondsCronSlots(SECONDS_CRON),
  tickMs: 250,
  followIntervalMs: 500,
  verifyIntervalMs: 2_000,
  shutdownTimeoutMs: 5_000,
  metricsPort: 0,
  metricsHost: "127.0.0.1",
});

const deadline = setTimeout(() => {
  outcome = "deadline";
  controller.abort();
}, DEADLINE_MS);

write("");
say("STEP 1: waiting for the first scheduled slot (at most 10 s).");
const summary = await daemon.run(controller.signal);
clearTimeout(deadline);
clearInterval(dumpCron);
process.off("SIGINT", interrupt);
process.off("SIGTERM", interrupt);

write("");
let statusPath: string | undefined;
if (lastRun) {
  statusPath = join(dir, "status.html");
  const model = statusPageModel(lastRun.facts, config.schedules, lastRun.report.checks, {
    windowMs: 10 * 60_000,
    destination: destination.location,
  });
  model.apps = recoverabilityByApp(config.schedules, config.external, lastRun.report.checks);
  writeFileSync(statusPath, renderStatusPage(model));
  say(`STEP 5: status page written: ${statusPath}`);
  for (const app of model.apps)
    say(
      `  app ${app.app}: recovery point ${app.recoveryPoint ?? "none"}${app.limitedBy ? `, set by ${app.limitedBy}` : ""}`,
    );
}
if (outcome === "done") {
  // The restore rehearsal `kots-backup drill` runs: each newest export read as Velero's restore would.
  for (const backup of await newestExports(destination)) {
    const drilled = await drillExport(destination, backup);
    if (!drilled.ok) outcome = "drill-failed";
    say(
      drilled.ok
        ? `STEP 6: restore drill of ${backup}: restorable (${drilled.checks.map((c) => c.name).join(", ")}; ${drilled.durationMs} ms)`
        : `STEP 6: restore drill of ${backup} FAILED: ${drilled.cause}`,
    );
  }
}
say(
  `daemon stopped: ${summary.slotsFired} slots, ${summary.backupsStarted} backups started, ${summary.exportsCompleted} exports, ${summary.verifyRuns} verify runs`,
);
say(
  `kotsadm received ${sandbox.kotsadm.backupRequestCount()} backup request(s); webhook received: ${received.map((r) => r.detailType).join(", ") || "nothing"}`,
);
say(`everything the demo wrote is under ${dir}`);
await new Promise<void>((resolve) => receiver.close(() => resolve()));
await sandbox.stop();

if (outcome === "done") {
  say("demo complete (SIMULATED cluster).");
} else {
  const missing = [
    !seen.completed && "a Completed scheduled backup",
    !seen.exported && "a verified export",
    !seen.down && "the check going down",
    !received.some((r) => r.detailType === "Check Down") && "the Check Down alert at the webhook",
    !seen.up && "the check recovering",
    !seen.recovered && "a Completed backup after the recovery",
    !received.some((r) => r.detailType === "Check Up") && "the Check Up alert at the webhook",
    !seen.dumpDown && "the database dump going stale",
    !delivered("Check Down", DUMP_CHECK) && "the dump's Check Down at the webhook",
    !seen.dumpUp && "the database dump recovering",
    !delivered("Check Up", DUMP_CHECK) && "the dump's Check Up at the webhook",
  ].filter(Boolean);
  say(
    outcome === "interrupted"
      ? "demo interrupted (Ctrl-C)."
      : outcome === "drill-failed"
        ? "demo's restore drill FAILED: the export above could not be restored from."
        : `demo did NOT see every step within ${DEADLINE_MS / 1000} s; missing: ${missing.join(", ")}.`,
  );
}
process.exitCode = outcome === "deadline" || outcome === "drill-failed" ? 1 : 0;

function deadlineMs(text: string | undefined): number {
  if (text === undefined) return 110_000;
  try {
    return parseDuration(text, "KOTS_BACKUP_DEMO_DEADLINE");
  } catch (error) {
    process.stderr.write(`${(error as Error).message}: ${(error as { fix?: string }).fix ?? ""}\n`);
    process.exit(2);
  }
}

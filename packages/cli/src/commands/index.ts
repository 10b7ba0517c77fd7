// The command table: every command's name, arguments, options and help text, registered eagerly; bin.ts
// imports it once. Each action loads its implementation (commands/<name>.ts) with `await import()` only
// when that command runs, so `kots-backup --help` and `<cmd> --help` never load @kubernetes/client-node,
// the AWS SDK or the core use cases. Keep this file's runtime imports to commander and program.ts
// (`import type` is erased, so flag types may come from the command modules).
import { Option } from "commander";
import { registerCommand } from "../program.ts";
import type { BackupFlags } from "./backup.ts";
import type { DaemonFlags } from "./daemon.ts";
import type { DrillFlags } from "./drill.ts";
import type { ExportFlags } from "./export.ts";
import type { LsFlags } from "./ls.ts";
import type { SilenceFlags } from "./silence.ts";
import type { StatusFlags } from "./status.ts";

registerCommand((program, run) => {
  program
    .command("backup")
    .description(
      "Take a KOTS backup through kotsadm, as `kubectl kots backup` does, and by default wait until it ends.\n" +
        "Exit 1 when it ended Failed, PartiallyFailed or FailedValidation.",
    )
    .addOption(
      new Option("--type <type>", "full (instance: kotsadm and every app) or partial (one app)")
        .choices(["full", "partial"])
        .default("full"),
    )
    .option("--app <slug>", "the app to back up (with --type partial)")
    .option("--wait", "wait until the backup's Velero phase is terminal (default)")
    .option("--no-wait", "return once kotsadm has accepted and the Backup is found")
    .option("--timeout <duration>", "give up waiting after this long (exit 3), e.g. 30m, 4h", "4h")
    .action(run(async (ctx, flags: BackupFlags) => (await import("./backup.ts")).backupCommand(ctx, flags)));

  program
    .command("ls")
    .description(
      "List KOTS backups, newest first: what `kubectl kots get backups` lists (improved-DR pairs as one entry),\n" +
        "plus app (partial) backups of this kotsadm's apps.",
    )
    .option("--app <slug>", "only this app's (partial) backups")
    .action(run(async (ctx, flags: LsFlags) => (await import("./ls.ts")).lsCommand(ctx, flags)));

  program
    .command("silence")
    .description(
      "Silence a schedule's check for a maintenance window: still evaluated and shown, but nobody is paged.",
    )
    .argument("<schedule>", "the schedule's name, as in the config")
    .requiredOption("--for <duration>", "how long, e.g. 30m, 2h, 1d")
    .option("--reason <text>", "why (shown in status and kept in the state)")
    .action(
      run(async (ctx, name: string, flags: SilenceFlags) =>
        (await import("./silence.ts")).silenceCommand(ctx, name, flags),
      ),
    );

  program
    .command("unsilence")
    .description(
      "End a schedule's silence now; if its check is down and was never announced, the next verify pages.",
    )
    .argument("<schedule>", "the schedule's name, as in the config")
    .action(run(async (ctx, name: string) => (await import("./silence.ts")).unsilenceCommand(ctx, name)));

  program
    .command("verify")
    .description(
      "Check every schedule's freshness (missed, failed, stuck, export missing/invalid, BSL, cluster) and page\n" +
        "on-call once per incident (Check Down / Check Up). Exit 1 when any check is down.",
    )
    .action(run(async (ctx) => (await import("./verify.ts")).verifyCommand(ctx)));

  program
    .command("status")
    .description(
      "Show every schedule's state, last good restore point and recent backups and exports, without paging.\n" +
        "With --html <file>, write a self-contained page with a timeline per schedule.",
    )
    .option("--html <file>", "also write the status page (one self-contained HTML file) here")
    .option("--window <duration>", "how far back the timeline goes", "7d")
    .action(run(async (ctx, flags: StatusFlags) => (await import("./status.ts")).statusCommand(ctx, flags)));

  program
    .command("config-download")
    .description(
      "Save an app's KOTS config archive (as `kubectl kots download`; passwords stay encrypted) under\n" +
        "export.destination at config/<app>/manual-<YYYYMMDDTHHMMSSZ>.tar.gz.",
    )
    .requiredOption("--app <slug>", "the app's slug (kubectl kots get apps)")
    .action(
      run(async (ctx, flags: { app: string }) =>
        (await import("./config-download.ts")).configDownloadCommand(ctx, flags),
      ),
    );

  program
    .command("export")
    .description(
      "Copy a finished backup off the cluster to export.destination, verify every object, then write its manifest.\n" +
        "Scope full (the BSL's objects + the kopia/restic repositories; needs export.bsl) or manifests (DownloadRequests;\n" +
        "no volume data). Exit 1 when the export did not verify.",
    )
    .argument("[backup]", "the backup's name (kots-backup ls)")
    .option("--latest", "export the newest Completed backup of the kind chosen below (default: full)")
    .option("--schedule <name>", "with --latest: the newest backup of this schedule's type and app")
    .addOption(
      new Option(
        "--type <type>",
        "with --latest: full (instance, the default) or partial (with --app)",
      ).choices(["full", "partial"]),
    )
    .option("--app <slug>", "with --latest --type partial: the app whose newest backup to export")
    .addOption(new Option("--scope <scope>", "what to copy").choices(["auto", "full", "manifests"]))
    .option(
      "--include-partially-failed",
      "also export a PartiallyFailed backup (KOTS restores only Completed ones)",
    )
    .action(
      run(async (ctx, backupName: string | undefined, flags: ExportFlags) =>
        (await import("./export.ts")).exportCommand(ctx, backupName, flags),
      ),
    );

  program
    .command("daemon")
    .description(
      "Run the configured schedules, follow backups, export finished ones, verify and alert, until stopped\n" +
        "(SIGTERM/SIGINT: graceful). State lives in the export destination, so a restart loses nothing and never\n" +
        "repeats a slot. Heartbeat ping after each verify run (daemon.heartbeatUrl); Prometheus /metrics\n" +
        "(daemon.metricsPort or --metrics-port).",
    )
    .option(
      "--metrics-port <port>",
      "serve /metrics and /healthz on this port (overrides daemon.metricsPort)",
    )
    .option(
      "--metrics-host <host>",
      "address to bind the metrics server to (overrides daemon.metricsHost; default 127.0.0.1, this machine only)",
    )
    .option("--shutdown-timeout <duration>", "how long to wait for work in flight when stopping", "20s")
    .addOption(new Option("--internal-seconds-cron <cron6>").hideHelp())
    .addOption(new Option("--internal-tick <duration>").hideHelp())
    .action(run(async (ctx, flags: DaemonFlags) => (await import("./daemon.ts")).daemonCommand(ctx, flags)));

  program
    .command("doctor")
    .description(
      "Check everything kots-backup depends on, one line per check with the fix: kubeconfig and TLS, the API,\n" +
        "kotsadm and its auth string, Velero and its default BSL, each Kubernetes permission of deploy/rbac.yaml,\n" +
        "the export destination's settings, and the alert channels (dry run). Exit 1 when any check fails.",
    )
    .action(run(async (ctx) => (await import("./doctor.ts")).doctorCommand(ctx)));

  program
    .command("drill")
    .description(
      "Restore drill: read the newest verified export of each kind (or --backup) at export.destination\n" +
        "as Velero's restore would (manifest, every checksum, velero-backup.json, a safe tarball, the resource\n" +
        "list); with drill.cluster set, then restore it in the DR cluster into scratch namespaces (deleted\n" +
        "after) and time it (RTO). One line per backup. Exit 1 when an export could not be restored.",
    )
    .option("--backup <name>", "drill this backup's export only")
    .option("--offline", "skip the live drill in the DR cluster (drill.cluster)")
    .action(run(async (ctx, flags: DrillFlags) => (await import("./drill.ts")).drillCommand(ctx, flags)));
});

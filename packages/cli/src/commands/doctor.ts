// `kots-backup doctor` (docs/contract.md §2): one line per check, pass or fail with the fix, then how many
// passed, failed and were skipped (`summary` in JSON). Exit 1 when any check fails; exit 3 only when it cannot start at all (no kubeconfig), exit 2 on a bad config.
// The checks live in adapters/src/doctor; this wires them to the global options and the config.
import { alertChecks } from "@kots-backup/adapters/doctor/alerts";
import { clusterChecks } from "@kots-backup/adapters/doctor/cluster";
import { localFolderChecks, s3BucketChecks } from "@kots-backup/adapters/doctor/destination";
import { externalChecks } from "@kots-backup/adapters/doctor/external";
import {
  type DoctorCheck,
  type DoctorReport,
  doctorFailed,
  doctorSummary,
} from "@kots-backup/adapters/doctor/types";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { LocalFolderStore } from "@kots-backup/adapters/store/local-folder";
import { S3Store } from "@kots-backup/adapters/store/s3";
import { ExitCode, isKotsBackupError } from "@kots-backup/core";
import { loadConfig, openConnection } from "../context.ts";
import { escapeControl, type Output } from "../output.ts";
import type { CommandAction, GlobalOptions } from "../program.ts";

export function renderDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    const mark = check.skipped ? (check.ok ? "SKIP" : "----") : check.ok ? "PASS" : "FAIL";
    // Details quote what the cluster and the destination answered.
    lines.push(`${mark}  ${escapeControl(check.name)}: ${escapeControl(check.detail)}`);
    if (!check.ok && check.fix) lines.push(`      fix: ${escapeControl(check.fix)}`);
  }
  const { passed, failed, skipped } = report.summary;
  lines.push(`${passed} passed, ${failed} failed, ${skipped} skipped (${report.checks.length} checks)`);
  return lines.join("\n");
}

/** Runs every check. Throws only when it cannot start (config invalid, no kubeconfig at all). */
export async function runDoctor(globals: GlobalOptions, out: Output): Promise<DoctorReport> {
  const checks = await doctorChecks(globals, out);
  return { checks, summary: doctorSummary(checks) };
}

async function doctorChecks(globals: GlobalOptions, out: Output): Promise<DoctorCheck[]> {
  const loaded = loadConfig(globals);
  const config = loaded?.config;
  const checks: DoctorCheck[] = [];
  if (loaded) checks.push({ name: "config", ok: true, detail: `${loaded.path} is valid` });
  else
    checks.push({
      name: "config",
      ok: true,
      skipped: true,
      detail: "no config file: cluster checks only (kotsadm namespace from the kubeconfig context)",
    });

  const connection = await openConnection(globals, config, { warn: (m) => out.log("warn", m) });
  const cluster = new KubeKotsCluster(connection, {
    name: config?.cluster.name ?? "kots",
    ...(config?.cluster.kotsadmNamespace ? { kotsadmNamespace: config.cluster.kotsadmNamespace } : {}),
    ...(config?.cluster.veleroNamespace ? { veleroNamespace: config.cluster.veleroNamespace } : {}),
    retry: { maxAttempts: 2 },
  });
  try {
    checks.push(...(await clusterChecks(connection, cluster)));
  } finally {
    await cluster.close();
  }

  if (!config) {
    checks.push({ name: "destination", ok: true, skipped: true, detail: "skipped: no config file" });
    checks.push({ name: "alert channels", ok: true, skipped: true, detail: "skipped: no config file" });
    return checks;
  }
  try {
    const store = await destinationStore(config.export);
    if (store instanceof S3Store)
      checks.push(...(await s3BucketChecks(store.client, store.bucket, store.prefix)));
    else if (store instanceof LocalFolderStore) checks.push(...(await localFolderChecks(store.root)));
  } catch (error) {
    checks.push({
      name: "destination",
      ok: false,
      detail: error instanceof Error ? error.message : String(error),
      fix: isKotsBackupError(error) && error.fix ? error.fix : "check export.destination and its credentials",
    });
  }
  checks.push(
    ...(await alertChecks(config.alerts, {
      ...(config.daemon.heartbeatUrl ? { heartbeatUrl: config.daemon.heartbeatUrl } : {}),
    })),
  );
  checks.push(...(await externalChecks(config.external)));
  return checks;
}

export const doctorCommand: CommandAction<[]> = async ({ globals, out }) => {
  const report = await runDoctor(globals, out);
  out.result(report, renderDoctor);
  return doctorFailed(report) ? ExitCode.problem : ExitCode.ok;
};

// The on-call runbook: the next step per check reason, with the concrete backup and schedule names when
// they are known (a page says `velero backup logs instance-abc12`, not `<name>`). Core's event messages
// and the channels' texts (adapters/alerts/messages.ts) both take their steps from here.
//
// Backup names come from the cluster: a Kubernetes (DNS-1123) name is shown as is; anything else is
// ANSI-C quoted (`$'…'`, bash and zsh) with every character that could run, end the quote, break the
// line or a Markdown code span written as an escape, so the command is exact and stays one line.
import type { CheckReason } from "./freshness.ts";

/** A DNS-1123 subdomain, what Kubernetes accepts as a Backup's name. */
const DNS_1123 = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** Printable ASCII that needs no escape inside `$'…'` (not `'`, `\` or the backtick). */
const PLAIN = /^[\x20-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]$/;
const NAMED: Readonly<Record<string, string>> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "'": "\\'",
  "\\": "\\\\",
};

/** `name` as one shell argument: as is when it is a Kubernetes name, else `$'…'` with escapes. */
export function shellArg(name: string): string {
  if (DNS_1123.test(name)) return name;
  if (name === "") return "''";
  let out = "";
  for (const c of name) {
    const code = c.codePointAt(0) ?? 0;
    if (PLAIN.test(c)) out += c;
    else if (NAMED[c]) out += NAMED[c];
    else if (code < 0x80) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += `\\U${code.toString(16).padStart(8, "0")}`;
  }
  return `$'${out}'`;
}

/** The command that restores a full (instance) backup on a cluster whose Velero sees it. */
export function restoreCommand(backup: string): string {
  return `kubectl kots restore --from-backup ${shellArg(backup)}`;
}

/** What a step may name: the schedule, and the backup the reason is about. */
export interface RunbookSubject {
  schedule?: string;
  backup?: string;
}

const backupOr = (subject: RunbookSubject, fallback: string) =>
  subject.backup !== undefined ? shellArg(subject.backup) : fallback;
const scheduleOr = (subject: RunbookSubject) =>
  subject.schedule !== undefined ? shellArg(subject.schedule) : "<schedule>";

/** Per reason, the next step: one sentence, concrete where the subject names things. */
const STEPS: { readonly [R in CheckReason]?: (subject: RunbookSubject) => string } = {
  missed: () =>
    "Check that the scheduler ran (`kots-backup status`), then take a backup now with `kots-backup backup`.",
  failed: (subject) => {
    const b = backupOr(subject, "<backup>");
    return `Read the backup's errors (\`velero backup describe ${b} --details\`, \`velero backup logs ${b}\` or the KOTS admin console), fix the cause, then run \`kots-backup backup\`.`;
  },
  stuck: (subject) =>
    `Check the Velero and node-agent logs (\`kubectl logs deploy/velero -n velero\`); if the backup cannot finish, delete it (\`velero backup delete ${backupOr(subject, "<backup>")}\`) and run \`kots-backup backup\`.`,
  "export-missing": (subject) =>
    `Run \`kots-backup export --latest --schedule ${scheduleOr(subject)}\` and check that kots-backup can write to the export destination.`,
  "export-invalid": (subject) =>
    `Re-run \`kots-backup export ${backupOr(subject, "<backup>")}\`; if it fails again, look for lifecycle rules or deletions on the export destination.`,
  "never-succeeded": () =>
    "Run `kots-backup doctor` to find what blocks backups, then `kots-backup backup` and watch it complete.",
  "bsl-unavailable": () =>
    "Run `velero backup-location get` and fix the storage location's bucket, credentials or network.",
  "cluster-unreachable": () =>
    "Check the kubeconfig, the network path and the API server, then run `kots-backup doctor`.",
  "clock-skew": (subject) =>
    `Compare the dates in \`kots-backup ls\` with the cluster nodes' clocks (NTP); once they agree, delete the misdated backup (\`velero backup delete ${backupOr(subject, "<backup>")}\`) or wait for its date.`,
  // External recovery points: a page names its kind's step (external.ts, externalNextStep); this is the fallback.
  unreachable: () =>
    "Run `kots-backup status` and `kots-backup doctor`: they name the external source and what fails.",
  unencrypted: () => "Run `kots-backup status`: it names the external recovery point that is not encrypted.",
  unprotected: () => "Run `kots-backup doctor`: it names the bucket whose versioning or replication is off.",
  "drill-failed": (subject) =>
    `Run \`kots-backup drill${subject.backup !== undefined ? ` --backup ${shellArg(subject.backup)}` : ""}\`: it names the check that fails (manifest, checksums, backup, tarball, resource-list); re-export the backup or fix the destination, then drill again.`,
  "drill-missed": () =>
    "Check that the daemon or the scheduled Lambda runs the drill (`kots-backup status` lists the last drill runs), then run `kots-backup drill`.",
};

/** The next step for `reason`, concrete where `subject` names things; undefined for a reason without one. */
export function nextStep(reason: string, subject: RunbookSubject = {}): string | undefined {
  return (STEPS as Readonly<Record<string, (subject: RunbookSubject) => string>>)[reason]?.(subject);
}

// @kots-backup/sandbox: a simulated KOTS cluster (Kubernetes API subset + kotsadm + Velero) for
// tests and the demo. See README.md.
export { type ClockMode, SandboxClock } from "./clock.ts";
export { type FaultRule, Faults, type FaultTarget } from "./faults.ts";
export type { KubeObject } from "./k8s/objects.ts";
export type { KotsApp } from "./kotsadm/backup-specs.ts";
export { Kotsadm, type KotsadmRequest } from "./kotsadm/kotsadm.ts";
export { type Sandbox, type SandboxOptions, startSandbox } from "./sandbox.ts";
export { type BackupPhase, type PreloadBackup, Scenario } from "./scenario.ts";
export type { BackupOutcome, BackupScript } from "./velero/script.ts";
export { Velero } from "./velero/velero.ts";

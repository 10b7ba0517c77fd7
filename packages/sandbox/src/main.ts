// `npm run sandbox`: a SIMULATED KOTS cluster for the demo and for trying kots-backup by hand.
// Runs on the wall clock until Ctrl-C; nothing here touches a real cluster.
// Its kubeconfig is kept at .sandbox/kubeconfig in the directory it was started from (the repository
// root under npm), where examples/local.yaml looks for it: a known path, out of the temp folder (which
// cleaners sweep), there until the sandbox stops.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { startSandbox } from "./sandbox.ts";

const DAY = 24 * 3600 * 1000;

const sandbox = await startSandbox({
  clock: "real",
  apps: [{ slug: "my-app", name: "My App", sequence: 12, versionLabel: "3.2.0" }],
});

// A week of nightly instance backups, one of which partially failed, plus neighbours kots-backup must ignore.
const now = sandbox.clock.nowMs();
for (let day = 7; day >= 1; day--) {
  await sandbox.scenario.addBackup({
    startedAt: new Date(now - day * DAY),
    trigger: "schedule",
    phase: day === 3 ? "PartiallyFailed" : "Completed",
    durationMs: 4 * 60_000,
  });
}
await sandbox.scenario.addBackup({ kind: "app", appSlug: "my-app", startedAt: new Date(now - 2 * DAY) });
await sandbox.scenario.addBackup({
  kind: "other",
  name: "nightly-cluster-20261122000000",
  startedAt: new Date(now - DAY),
});
await sandbox.scenario.addBackup({
  kotsadmNamespace: "other-kotsadm",
  startedAt: new Date(now - DAY),
  writeArtifacts: false,
});
// New backups take 20 s in InProgress, so a demo run shows the phases move.
sandbox.velero.defaultScript = { durationMs: 20_000 };

const kubeconfigPath = resolve(".sandbox", "kubeconfig");
mkdirSync(resolve(".sandbox"), { recursive: true });
writeFileSync(kubeconfigPath, sandbox.kubeconfigYaml, { mode: 0o600 });
// However the process ends (Ctrl-C, an error), the kubeconfig goes with it, unless a newer sandbox
// has written its own there since.
process.on("exit", () => {
  try {
    if (readFileSync(kubeconfigPath, "utf8") === sandbox.kubeconfigYaml) rmSync(kubeconfigPath);
  } catch {
    // Already gone.
  }
});

const line = "=".repeat(72);
process.stdout.write(
  [
    line,
    "  SIMULATED KOTS cluster (kots-backup sandbox) - not a real Kubernetes cluster",
    line,
    `  kubeconfig         ${kubeconfigPath}   (until this sandbox stops)`,
    `  API server         ${sandbox.apiUrl}   (service account kots-backup, RBAC from deploy/rbac.yaml)`,
    `  kotsadm namespace  ${sandbox.namespaces.kotsadm}   (pod app=kotsadm, port 3000 via pods/portforward)`,
    `  velero namespace   ${sandbox.namespaces.velero}   (BSL "default", bucket in memory)`,
    `  download URLs      ${sandbox.downloadUrl}`,
    "",
    "  try, from another terminal:",
    `    npx kots-backup --kubeconfig ${kubeconfigPath} ls`,
    "    npx kots-backup --config examples/local.yaml doctor      (from the repository root; then backup,",
    "                                                             export --latest, verify, status)",
    `    KUBECONFIG=${kubeconfigPath} kubectl get backups.velero.io -n ${sandbox.namespaces.velero}`,
    "  Ctrl-C to stop.",
    line,
    "",
  ].join("\n"),
);

const shutdown = async () => {
  await sandbox.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

// `doctor`'s cluster checks: kubeconfig and TLS, API reachability, kotsadm (pod + auth string),
// Velero, the default BSL, every permission of deploy/rbac.yaml, and Velero's repository password.
// Each check is one line: pass or fail with the fix. A check whose prerequisite failed is reported
// as not checked (ok: false, skipped: true) so that nothing looks verified when it was not.
import { isKotsBackupError } from "@kots-backup/core";
import { VersionApi } from "@kubernetes/client-node";
import type { KubeKotsCluster } from "../kube/cluster.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { KubeApiError, RBAC_FIX } from "../kube/errors.ts";
import { describePermission, type Permission, readManifestPermissions, reviewPermissions } from "./rbac.ts";
import type { DoctorCheck } from "./types.ts";

export const REPO_CREDENTIALS_SECRET = "velero-repo-credentials";
export const REPO_PASSWORD_KEY = "repository-password";
/** The password Velero uses when none was set: public, so the Kopia/restic repositories are effectively unencrypted. */
export const WELL_KNOWN_REPO_PASSWORD = "static-passw0rd";

function failure(name: string, error: unknown, fallbackFix: string): DoctorCheck {
  const known = isKotsBackupError(error) ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return { name, ok: false, detail: message, fix: known?.fix ?? fallbackFix };
}

function notChecked(name: string, because: string): DoctorCheck {
  return { name, ok: false, skipped: true, detail: `not checked: ${because}` };
}

export interface ClusterCheckOptions {
  /** Permissions to review (default: read from deploy/rbac.yaml). */
  permissions?: (namespaces: { kotsadm: string; velero: string }) => Permission[];
}

/** Runs the cluster checks on an opened connection. Never throws: every problem is a failing line. */
export async function clusterChecks(
  connection: KubeConnection,
  cluster: KubeKotsCluster,
  options: ClusterCheckOptions = {},
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  checks.push({ name: "kubeconfig", ok: true, detail: `loaded ${connection.description}` });

  // API reachability, and TLS verified on the way.
  let apiOk = false;
  try {
    const version = await cluster.api.call({ verb: "get", resource: "version" }, () =>
      connection.kubeConfig.makeApiClient(VersionApi).getCode(),
    );
    apiOk = true;
    checks.push(
      connection.insecureSkipTlsVerify
        ? {
            name: "tls",
            ok: false,
            detail: `TLS verification of ${connection.server} is OFF: anyone on the network path can read the credentials`,
            fix: "remove insecure-skip-tls-verify (kubeconfig) or cluster.insecureSkipTlsVerify, and trust the cluster's CA (certificate-authority-data, or cluster.caFile)",
          }
        : { name: "tls", ok: true, detail: `certificate of ${connection.server} verified` },
    );
    checks.push({
      name: "api",
      ok: true,
      detail: `Kubernetes ${version.gitVersion ?? `${version.major}.${version.minor}`} reachable at ${connection.server}`,
    });
  } catch (error) {
    const code = isKotsBackupError(error) ? error.code : "";
    if (code === "tls-refused" || code === "tls-required") {
      checks.push(failure("tls", error, "trust the cluster's CA in the kubeconfig"));
      checks.push(notChecked("api", "TLS failed"));
    } else {
      checks.push({
        name: "tls",
        ok: !connection.insecureSkipTlsVerify,
        skipped: true,
        detail: "not checked: the API could not be reached",
      });
      checks.push(failure("api", error, "check the server URL, the network path and that the cluster is up"));
    }
  }
  if (!apiOk) {
    for (const name of [
      "kotsadm pod",
      "kotsadm auth",
      "velero",
      "bsl",
      "permissions",
      "repository password",
    ]) {
      checks.push(notChecked(name, "the Kubernetes API is not reachable"));
    }
    return checks;
  }

  // kotsadm: the pod, then a harmless authorised GET through the port-forward.
  try {
    const kotsadm = await cluster.kotsadm();
    checks.push({
      name: "kotsadm pod",
      ok: true,
      detail: `pod ${kotsadm.pod} Running in namespace ${cluster.kotsadmNamespace}`,
    });
    try {
      const apps = await kotsadm.listApps();
      checks.push({
        name: "kotsadm auth",
        ok: true,
        detail: `auth string accepted (GET /api/v1/apps through the port-forward: ${apps.length} app${apps.length === 1 ? "" : "s"}${apps.length ? `: ${apps.map((a) => a.slug).join(", ")}` : ""})`,
      });
    } catch (error) {
      checks.push(
        failure("kotsadm auth", error, "check Secret kotsadm-authstring and the port-forward path"),
      );
    }
  } catch (error) {
    checks.push(
      failure("kotsadm pod", error, `check that kotsadm runs in namespace ${cluster.kotsadmNamespace}`),
    );
    checks.push(notChecked("kotsadm auth", "no kotsadm pod"));
  }

  // Velero and its default BSL.
  let veleroNamespace: string | undefined;
  let veleroSource: string | undefined;
  try {
    const found = await cluster.veleroNamespace();
    veleroNamespace = found.namespace;
    veleroSource = found.source;
    checks.push({
      name: "velero",
      ok: true,
      detail: `namespace ${found.namespace} (${found.source === "config" ? "from cluster.veleroNamespace" : found.source === "configmap" ? "from ConfigMap kotsadm-velero-namespace" : "from the velero Deployment"})`,
    });
  } catch (error) {
    checks.push(failure("velero", error, "install Velero, or set cluster.veleroNamespace"));
  }
  if (veleroNamespace) {
    try {
      const bsl = await cluster.defaultBsl();
      const where = `BackupStorageLocation ${bsl.name} in namespace ${bsl.namespace}${bsl.bucket ? ` (${bsl.provider ?? "?"} bucket ${bsl.bucket}${bsl.prefix ? `/${bsl.prefix}` : ""})` : ""}`;
      if (bsl.phase === "Available") checks.push({ name: "bsl", ok: true, detail: `${where} is Available` });
      else
        checks.push({
          name: "bsl",
          ok: false,
          detail: `${where} is ${bsl.phase ?? "not validated yet"}: Velero cannot write backups there`,
          fix: `check the location's bucket, credentials and network path: \`velero backup-location get -n ${bsl.namespace}\` and \`kubectl logs -n ${bsl.namespace} deploy/velero\``,
        });
    } catch (error) {
      checks.push(failure("bsl", error, "configure snapshot storage in the KOTS admin console"));
    }
  } else checks.push(notChecked("bsl", "Velero was not found"));

  // Permissions, one line each, from deploy/rbac.yaml.
  const namespaces = { kotsadm: cluster.kotsadmNamespace, velero: veleroNamespace ?? "velero" };
  let permissions: Permission[];
  try {
    permissions = (options.permissions ?? readManifestPermissions)(namespaces);
  } catch (error) {
    checks.push(failure("permissions", error, "check that deploy/rbac.yaml is present and valid"));
    permissions = [];
  }
  const answers = await reviewPermissions(connection.kubeConfig, permissions);
  for (const answer of answers) {
    const what = describePermission(answer.permission);
    const name = `permission ${what}`;
    if (answer.allowed) {
      checks.push({ name, ok: true, detail: "allowed" });
    } else if (answer.error) {
      checks.push({
        name,
        ok: false,
        detail: `could not ask the API server (SelfSubjectAccessReview): ${answer.error}`,
        fix: "check that the API server serves authorization.k8s.io/v1",
      });
    } else if (!answer.permission.namespace && veleroSource && veleroSource !== "deployment") {
      // The cluster-wide Deployment list is only used to discover Velero when nothing else names it.
      checks.push({
        name,
        ok: true,
        detail: `missing, but not needed: Velero's namespace comes from ${veleroSource === "config" ? "cluster.veleroNamespace" : "ConfigMap kotsadm-velero-namespace"}`,
      });
    } else {
      checks.push({
        name,
        ok: false,
        detail: `missing Kubernetes permission: ${what} (${answer.permission.role})`,
        fix: RBAC_FIX,
      });
    }
  }

  // Velero's repository password: only if this identity may read it (kots-backup does not need to).
  if (veleroNamespace) {
    const name = "repository password";
    try {
      const secret = await cluster.api.getSecret(veleroNamespace, REPO_CREDENTIALS_SECRET);
      const encoded = secret?.data?.[REPO_PASSWORD_KEY];
      if (!secret || encoded === undefined) {
        checks.push({
          name,
          ok: true,
          skipped: true,
          detail: `skipped: no Secret ${REPO_CREDENTIALS_SECRET} (key ${REPO_PASSWORD_KEY}) in namespace ${veleroNamespace}`,
        });
      } else if (Buffer.from(encoded, "base64").toString("utf8") === WELL_KNOWN_REPO_PASSWORD) {
        checks.push({
          name,
          ok: false,
          detail: `Secret ${REPO_CREDENTIALS_SECRET} in namespace ${veleroNamespace} holds Velero's well-known default repository password: anyone who can read the bucket (or an export) can decrypt the volume data`,
          fix: `set a unique ${REPO_PASSWORD_KEY} in Secret ${REPO_CREDENTIALS_SECRET} (existing Kopia repositories keep the password they were created with: re-create them, see Velero's file-system backup docs) and keep it with the disaster-recovery notes`,
        });
      } else {
        checks.push({ name, ok: true, detail: "not the well-known default" });
      }
    } catch (error) {
      const forbidden = error instanceof KubeApiError && error.status === 403;
      checks.push({
        name,
        ok: true,
        skipped: true,
        detail: forbidden
          ? `skipped: this identity may not read Secret ${REPO_CREDENTIALS_SECRET} in namespace ${veleroNamespace} (kots-backup does not need it; run doctor with an admin kubeconfig to check it)`
          : `skipped: ${(error as Error).message}`,
      });
    }
  } else checks.push(notChecked("repository password", "Velero was not found"));
  return checks;
}

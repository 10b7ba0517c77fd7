// The Kubernetes permissions kots-backup needs, read from deploy/rbac.yaml itself (so `doctor` and
// the manifest cannot drift), and checked with SelfSubjectAccessReview for the identity in use.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

/** deploy/rbac.yaml at the repository root. */
export const RBAC_MANIFEST_PATH = fileURLToPath(new URL("../../../../deploy/rbac.yaml", import.meta.url));

/** The namespaces written in deploy/rbac.yaml, mapped onto the cluster's. */
export const MANIFEST_NAMESPACES = { kotsadm: "default", velero: "velero" } as const;

export interface Permission {
  verb: string;
  /** API group ("" for core). */
  group: string;
  resource: string;
  subresource?: string;
  /** Restricted to one object (resourceNames). */
  name?: string;
  /** Undefined: cluster-wide (ClusterRole). */
  namespace?: string;
  /** The Role or ClusterRole it comes from. */
  role: string;
}

interface RuleDoc {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs?: string[] }[];
}

/**
 * Every (verb, resource[, name]) of the Roles and ClusterRoles in the manifest. Namespaces are mapped:
 * the manifest's `default` is the kotsadm namespace and `velero` is Velero's.
 */
export function permissionsFromManifest(
  yamlText: string,
  namespaces: { kotsadm: string; velero: string },
): Permission[] {
  const out: Permission[] = [];
  for (const document of parseAllDocuments(yamlText)) {
    const doc = document.toJS() as RuleDoc | null;
    if (!doc || (doc.kind !== "Role" && doc.kind !== "ClusterRole")) continue;
    const written = doc.metadata?.namespace;
    const namespace =
      doc.kind === "ClusterRole"
        ? undefined
        : written === MANIFEST_NAMESPACES.velero
          ? namespaces.velero
          : written === MANIFEST_NAMESPACES.kotsadm || written === undefined
            ? namespaces.kotsadm
            : written;
    const role = `${doc.kind}/${doc.metadata?.name ?? "?"}`;
    for (const rule of doc.rules ?? []) {
      for (const group of rule.apiGroups ?? [""]) {
        for (const full of rule.resources ?? []) {
          const [resource = full, subresource] = full.split("/");
          const names = rule.resourceNames?.length ? rule.resourceNames : [undefined];
          for (const verb of rule.verbs ?? []) {
            for (const name of names) {
              out.push({
                verb,
                group,
                resource,
                ...(subresource ? { subresource } : {}),
                ...(name ? { name } : {}),
                ...(namespace ? { namespace } : {}),
                role,
              });
            }
          }
        }
      }
    }
  }
  return out;
}

export function readManifestPermissions(
  namespaces: { kotsadm: string; velero: string },
  path: string = RBAC_MANIFEST_PATH,
): Permission[] {
  return permissionsFromManifest(readFileSync(path, "utf8"), namespaces);
}

/** `get pods/portforward in namespace default`, `list deployments.apps cluster-wide`. */
export function describePermission(p: Permission): string {
  const resource = `${p.resource}${p.group ? `.${p.group}` : ""}${p.subresource ? `/${p.subresource}` : ""}`;
  const where = p.namespace ? `in namespace ${p.namespace}` : "cluster-wide";
  return `${p.verb} ${resource}${p.name ? ` ${p.name}` : ""} ${where}`;
}

export interface PermissionAnswer {
  permission: Permission;
  allowed: boolean;
  /** Why it could not be asked (the review itself failed). */
  error?: string;
  reason?: string;
}

/** Asks the API server, for each permission, whether the current identity has it. */
export async function reviewPermissions(
  kubeConfig: KubeConfig,
  permissions: readonly Permission[],
): Promise<PermissionAnswer[]> {
  const authz = kubeConfig.makeApiClient(AuthorizationV1Api);
  return Promise.all(
    permissions.map(async (permission): Promise<PermissionAnswer> => {
      try {
        const review = await authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SelfSubjectAccessReview",
            spec: {
              resourceAttributes: {
                verb: permission.verb,
                group: permission.group,
                resource: permission.resource,
                ...(permission.subresource ? { subresource: permission.subresource } : {}),
                ...(permission.name ? { name: permission.name } : {}),
                ...(permission.namespace ? { namespace: permission.namespace } : {}),
              },
            },
          },
        });
        return {
          permission,
          allowed: review.status?.allowed === true,
          ...(review.status?.reason ? { reason: review.status.reason } : {}),
        };
      } catch (error) {
        return { permission, allowed: false, error: (error as Error).message.split("\n")[0] ?? "failed" };
      }
    }),
  );
}

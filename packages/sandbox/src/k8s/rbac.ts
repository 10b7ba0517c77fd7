// Role-based access control for the kots-backup service account, read from deploy/rbac.yaml, so
// the sandbox refuses exactly what a real cluster with that manifest would refuse.
// The manifest's location and its namespaces are the product's (doctor reads the same file); the
// authorizer below is the sandbox's own model of kube-apiserver's RBAC, so the two stay independent.
import { readFileSync } from "node:fs";
import { MANIFEST_NAMESPACES, type Permission, RBAC_MANIFEST_PATH } from "@kots-backup/adapters/doctor/rbac";
import { InputError } from "@kots-backup/core";
import { parseAllDocuments } from "yaml";
import { StatusError } from "./status.ts";

export const defaultRbacPath = RBAC_MANIFEST_PATH;

/** Who is calling, from the bearer token. */
export interface Identity {
  username: string;
  /** Admin bypasses RBAC (scenario setup, tests). */
  admin: boolean;
}

/** What a request asks to do: the product's Permission shape, without the role it was granted by.
 * (`namespace` undefined: cluster-scoped requests and cluster-wide lists.) */
export type RequestAttributes = Omit<Permission, "role">;

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface RbacDocument {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** Maps the manifest's namespaces (`default`, `velero`) onto the sandbox's. */
export interface NamespaceMapping {
  kotsadmNamespace: string;
  veleroNamespace: string;
}

export class RbacPolicy {
  private readonly documents: RbacDocument[];

  constructor(yamlText: string, mapping: NamespaceMapping) {
    const remap = (ns: string | undefined) =>
      ns === MANIFEST_NAMESPACES.kotsadm
        ? mapping.kotsadmNamespace
        : ns === MANIFEST_NAMESPACES.velero
          ? mapping.veleroNamespace
          : ns;
    try {
      this.documents = parseAllDocuments(yamlText)
        .map((doc) => doc.toJS() as RbacDocument | null)
        .filter((doc): doc is RbacDocument => doc !== null && typeof doc === "object");
    } catch (error) {
      throw new InputError("sandbox-rbac-invalid", "RBAC manifest is not valid YAML", { cause: error });
    }
    for (const doc of this.documents) {
      if (doc.metadata?.namespace) doc.metadata.namespace = remap(doc.metadata.namespace);
      for (const subject of doc.subjects ?? []) subject.namespace = remap(subject.namespace);
    }
  }

  static fromFile(path: string, mapping: NamespaceMapping): RbacPolicy {
    return new RbacPolicy(readFileSync(path, "utf8"), mapping);
  }

  /** True when a binding for this service account grants the request. */
  allows(serviceAccount: { namespace: string; name: string }, request: RequestAttributes): boolean {
    // Every authenticated user may ask what it may do (system:basic-user).
    if (request.group === "authorization.k8s.io" && request.resource === "selfsubjectaccessreviews")
      return true;
    return this.rulesFor(serviceAccount, request.namespace).some((rule) => ruleMatches(rule, request));
  }

  private rulesFor(
    serviceAccount: { namespace: string; name: string },
    namespace: string | undefined,
  ): PolicyRule[] {
    const rules: PolicyRule[] = [];
    for (const binding of this.documents) {
      if (binding.kind !== "RoleBinding" && binding.kind !== "ClusterRoleBinding") continue;
      if (binding.kind === "RoleBinding" && binding.metadata.namespace !== namespace) continue;
      const bound = (binding.subjects ?? []).some(
        (s) =>
          s.kind === "ServiceAccount" &&
          s.name === serviceAccount.name &&
          s.namespace === serviceAccount.namespace,
      );
      if (!bound || !binding.roleRef) continue;
      const role = this.documents.find(
        (d) =>
          d.kind === binding.roleRef!.kind &&
          d.metadata.name === binding.roleRef!.name &&
          (d.kind === "ClusterRole" || d.metadata.namespace === binding.metadata.namespace),
      );
      rules.push(...(role?.rules ?? []));
    }
    return rules;
  }
}

function ruleMatches(rule: PolicyRule, request: RequestAttributes): boolean {
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const has = (list: string[] | undefined, value: string) =>
    (list ?? []).some((v) => v === "*" || v === value);
  if (
    !has(rule.apiGroups, request.group) ||
    !has(rule.resources, resource) ||
    !has(rule.verbs, request.verb)
  ) {
    return false;
  }
  if (rule.resourceNames && rule.resourceNames.length > 0) {
    return request.name !== undefined && rule.resourceNames.includes(request.name);
  }
  return true;
}

/** The 403 kube-apiserver's RBAC authorizer returns, word for word. */
export function forbidden(username: string, request: RequestAttributes): StatusError {
  const groupResource = request.group ? `${request.resource}.${request.group}` : request.resource;
  const subject = request.name ? `${groupResource} "${request.name}"` : groupResource;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const scope = request.namespace ? `in the namespace "${request.namespace}"` : "at the cluster scope";
  return new StatusError(
    403,
    "Forbidden",
    `${subject} is forbidden: User "${username}" cannot ${request.verb} resource "${resource}" in API group "${request.group}" ${scope}`,
    { ...(request.name ? { name: request.name } : {}), group: request.group, kind: request.resource },
  );
}

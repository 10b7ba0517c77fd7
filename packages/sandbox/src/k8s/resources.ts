// The resource types the sandbox serves. Velero's come from the CRD files; the built-in ones are the
// few kots-backup touches (pods, secrets, configmaps, namespaces, deployments).

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Built-in types; list items then omit apiVersion/kind, as kube-apiserver does for them. */
  builtin: boolean;
}

export const builtinResources: ResourceType[] = [
  { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false, builtin: true },
  { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true, builtin: true },
  { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true, builtin: true },
  { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true, builtin: true },
  { group: "", version: "v1", plural: "services", kind: "Service", namespaced: true, builtin: true },
  {
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    kind: "ServiceAccount",
    namespaced: true,
    builtin: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
    namespaced: true,
    builtin: true,
  },
];

/** `pods`, `deployments.apps`, `backups.velero.io`: the name Velero and kube-apiserver messages use. */
export function groupResource(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export class ResourceRegistry {
  private readonly byPath = new Map<string, ResourceType>();

  constructor(types: ResourceType[]) {
    for (const type of types) this.byPath.set(`${type.group}/${type.version}/${type.plural}`, type);
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  /** By group and plural only, for callers that do not care about the version (RBAC, controllers). */
  byResource(group: string, plural: string): ResourceType {
    for (const type of this.byPath.values()) {
      if (type.group === group && type.plural === plural) return type;
    }
    throw new Error(`sandbox has no resource ${plural} in group "${group}"`);
  }

  all(): ResourceType[] {
    return [...this.byPath.values()];
  }
}

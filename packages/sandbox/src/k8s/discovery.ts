// Discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`, `/version`) built from the
// registry, enough for client-node and kubectl-style clients to find the resources.
import type { ResourceRegistry, ResourceType } from "./resources.ts";

export function discoveryDocument(pathname: string, registry: ResourceRegistry): unknown | undefined {
  const types = registry.all();
  const path = pathname.replace(/\/+$/, "");
  if (path === "/version") {
    return { major: "1", minor: "35", gitVersion: "v1.35.0-sandbox", platform: "linux/amd64" };
  }
  if (path === "/api") {
    return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
  }
  if (path === "/apis") {
    const groups = [...new Set(types.filter((t) => t.group).map((t) => `${t.group}/${t.version}`))];
    groups.push("authorization.k8s.io/v1");
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groups.map((gv) => {
        const [name, version] = gv.split("/") as [string, string];
        const entry = { groupVersion: gv, version };
        return { name, versions: [entry], preferredVersion: entry };
      }),
    };
  }
  const match = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  if (!match) return undefined;
  const group = match[2] ?? "";
  const version = match[1] ?? match[3]!;
  const resources = types.filter((t) => t.group === group && t.version === version).map(resourceEntry);
  if (group === "authorization.k8s.io" && version === "v1") {
    resources.push({
      name: "selfsubjectaccessreviews",
      singularName: "",
      namespaced: false,
      kind: "SelfSubjectAccessReview",
      verbs: ["create"],
    });
  }
  if (resources.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

function resourceEntry(type: ResourceType) {
  return {
    name: type.plural,
    singularName: type.kind.toLowerCase(),
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
  };
}

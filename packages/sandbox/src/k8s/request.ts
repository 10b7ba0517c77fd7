// Parsing of a Kubernetes API path into the resource request it names, and the RBAC verb it implies.
import type { RequestAttributes } from "./rbac.ts";

export interface ResourceRequest {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** `/api/v1/namespaces/ns/pods/x/portforward` → {group "", version v1, plural pods, ...}; undefined for non-resource paths. */
export function parseResourcePath(pathname: string): ResourceRequest | undefined {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 3) {
    group = "";
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest[0] === "namespaces" && rest.length >= 3) {
    return withOptional({ group, version, plural: rest[2]! }, rest[1], rest[3], rest[4]);
  }
  return withOptional({ group, version, plural: rest[0]! }, undefined, rest[1], rest[2]);
}

function withOptional(
  base: ResourceRequest,
  namespace?: string,
  name?: string,
  subresource?: string,
): ResourceRequest {
  return {
    ...base,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
    ...(subresource === undefined ? {} : { subresource }),
  };
}

/** The verb kube-apiserver's RequestInfoFactory derives from method, name and `watch`. */
export function verbFor(method: string, request: ResourceRequest, watch: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      if (watch) return "watch";
      return request.name === undefined ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return request.name === undefined ? "deletecollection" : "delete";
    default:
      return method.toLowerCase();
  }
}

export function attributesOf(request: ResourceRequest, verb: string): RequestAttributes {
  return {
    verb,
    group: request.group,
    resource: request.plural,
    ...(request.subresource === undefined ? {} : { subresource: request.subresource }),
    ...(request.name === undefined ? {} : { name: request.name }),
    ...(request.namespace === undefined ? {} : { namespace: request.namespace }),
  };
}

// The Kubernetes API subset over HTTPS: authentication, RBAC, then CRUD/patch/watch on the
// in-memory cluster state, answering with the same bodies and status codes as kube-apiserver.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Faults } from "../faults.ts";
import type { Caller, TokenAuthenticator } from "./auth.ts";
import type { ClusterState } from "./cluster-state.ts";
import { discoveryDocument } from "./discovery.ts";
import type { KubeObject } from "./objects.ts";
import { jsonPatch, mergePatch } from "./patch.ts";
import { forbidden, type RbacPolicy, type RequestAttributes } from "./rbac.ts";
import { attributesOf, parseResourcePath, type ResourceRequest, verbFor } from "./request.ts";
import { apiVersionOf, type ResourceRegistry, type ResourceType } from "./resources.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { badRequest, StatusError, statusBody } from "./status.ts";
import { serveWatch } from "./watch.ts";

export interface ApiServerContext {
  state: ClusterState;
  registry: ResourceRegistry;
  auth: TokenAuthenticator;
  rbac: () => RbacPolicy;
  faults: Faults;
}

export function createApiHandler(context: ApiServerContext) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(context, req, res).catch((error: unknown) => sendError(res, error));
  };
}

async function handle(context: ApiServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fault = await context.faults.apply("api", req, res, faultStatus);
  if (fault.handled) return;
  const caller = context.auth.authenticate(req);
  const url = new URL(req.url ?? "/", "https://sandbox");
  const method = req.method ?? "GET";
  const request = parseResourcePath(url.pathname);
  if (!request) {
    const document = discoveryDocument(url.pathname, context.registry);
    if (document === undefined) throw notFoundPath();
    return sendJson(res, 200, document);
  }
  const watch = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
  authorize(context, caller, attributesOf(request, verbFor(method, request, watch)));

  if (
    request.group === "authorization.k8s.io" &&
    request.plural === "selfsubjectaccessreviews" &&
    method === "POST"
  ) {
    return sendJson(res, 201, selfSubjectAccessReview(context, caller, await readJson(req)));
  }
  const type = context.registry.find(request.group, request.version, request.plural);
  if (!type || (request.namespace !== undefined && !type.namespaced)) throw notFoundPath();
  if (request.subresource !== undefined) {
    // Velero's CRDs declare no subresources, so `/status` does not exist; pods/portforward needs an upgrade.
    if (type.plural === "pods" && request.subresource === "portforward")
      throw badRequest("Upgrade request required");
    throw notFoundPath();
  }
  const { state } = context;
  const namespace = type.namespaced ? request.namespace : undefined;

  switch (method) {
    case "GET":
      if (watch) return serveWatch(state, type, namespace, url.searchParams, req, res);
      if (request.name !== undefined) return sendJson(res, 200, state.get(type, namespace, request.name));
      return sendJson(res, 200, listResponse(state, type, namespace, url.searchParams));
    case "POST": {
      if (request.name !== undefined) throw methodNotAllowed();
      const created = state.create(type, checkKind(type, await readJson(req)), namespace);
      return sendJson(res, 201, created);
    }
    case "PUT": {
      if (request.name === undefined) throw methodNotAllowed();
      const body = checkKind(type, await readJson(req));
      if (body.metadata?.name !== request.name) {
        throw badRequest(
          `the name of the object (${body.metadata?.name}) does not match the name on the URL (${request.name})`,
        );
      }
      body.metadata.namespace = namespace;
      return sendJson(res, 200, state.update(type, body, { requireResourceVersion: !type.builtin }));
    }
    case "PATCH": {
      if (request.name === undefined) throw methodNotAllowed();
      return sendJson(
        res,
        200,
        patchObject(state, type, namespace, request, req.headers["content-type"], await readJson(req)),
      );
    }
    case "DELETE":
      if (request.name === undefined) throw methodNotAllowed();
      return sendJson(res, 200, state.delete(type, namespace, request.name));
    default:
      throw methodNotAllowed();
  }
}

export function authorize(context: ApiServerContext, caller: Caller, attributes: RequestAttributes): void {
  if (caller.admin) return;
  if (!caller.serviceAccount || !context.rbac().allows(caller.serviceAccount, attributes)) {
    throw forbidden(caller.username, attributes);
  }
}

function patchObject(
  state: ClusterState,
  type: ResourceType,
  namespace: string | undefined,
  request: ResourceRequest,
  contentType: string | undefined,
  body: unknown,
): KubeObject {
  const current = state.get(type, namespace, request.name!);
  const kind = (contentType ?? "").split(";")[0]!.trim();
  let patched: KubeObject;
  if (
    kind === "application/merge-patch+json" ||
    (type.builtin && kind === "application/strategic-merge-patch+json")
  ) {
    patched = mergePatch(current, body) as KubeObject;
  } else if (kind === "application/json-patch+json") {
    patched = jsonPatch(current, body);
  } else {
    throw new StatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
    );
  }
  // A patch only races with another writer when it names a resourceVersion itself.
  const patchedVersion = patched.metadata?.resourceVersion;
  patched.metadata = {
    ...patched.metadata,
    name: current.metadata.name,
    namespace: current.metadata.namespace,
  };
  patched.metadata.resourceVersion = patchedVersion ?? current.metadata.resourceVersion;
  return state.update(type, checkKind(type, patched));
}

function listResponse(
  state: ClusterState,
  type: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
) {
  const matchesLabels = parseLabelSelector(query.get("labelSelector"));
  const matchesFields = parseFieldSelector(query.get("fieldSelector"));
  const all = state.list(type, namespace).filter((o) => matchesLabels(o.metadata.labels) && matchesFields(o));
  const resourceVersion = state.resourceVersion;
  const limit = Number(query.get("limit") ?? 0);
  let items = all;
  const metadata: Record<string, unknown> = { resourceVersion };
  // No `limit` → everything in one answer, as kube-apiserver does; paging only when asked.
  if (limit > 0) {
    const token = query.get("continue");
    const startAfter = token ? decodeContinue(token) : undefined;
    const remaining = startAfter === undefined ? all : all.filter((o) => keyOf(o) > startAfter);
    items = remaining.slice(0, limit);
    if (remaining.length > limit) {
      metadata.continue = encodeContinue(keyOf(items[items.length - 1]!), resourceVersion);
      metadata.remainingItemCount = remaining.length - limit;
    }
  }
  return {
    apiVersion: apiVersionOf(type),
    kind: `${type.kind}List`,
    metadata,
    items: type.builtin ? items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest) : items,
  };
}

function keyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}

function encodeContinue(startAfter: string, resourceVersion: string): string {
  return Buffer.from(
    JSON.stringify({ v: "meta.k8s.io/v1", rv: Number(resourceVersion), start: startAfter }),
  ).toString("base64url");
}

function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { start?: unknown };
    if (typeof parsed.start === "string") return parsed.start;
  } catch {
    // fall through to the same error kube-apiserver gives
  }
  throw badRequest(
    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
  );
}

function selfSubjectAccessReview(context: ApiServerContext, caller: Caller, body: KubeObject) {
  const attributes = (body.spec?.resourceAttributes ?? {}) as Partial<RequestAttributes> & { group?: string };
  const request: RequestAttributes = {
    verb: attributes.verb ?? "",
    group: attributes.group ?? "",
    resource: attributes.resource ?? "",
    ...(attributes.subresource ? { subresource: attributes.subresource } : {}),
    ...(attributes.name ? { name: attributes.name } : {}),
    ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
  };
  const allowed =
    caller.admin ||
    (caller.serviceAccount !== undefined && context.rbac().allows(caller.serviceAccount, request));
  return {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    metadata: { creationTimestamp: null },
    spec: body.spec ?? {},
    status: allowed
      ? { allowed: true, reason: caller.admin ? "" : "RBAC: allowed by the kots-backup bindings" }
      : { allowed: false },
  };
}

function checkKind(type: ResourceType, body: KubeObject): KubeObject {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest("the object provided is not a JSON object");
  if (body.kind !== undefined && body.kind !== type.kind) {
    throw badRequest(`the kind of the object (${body.kind}) does not match the resource (${type.kind})`);
  }
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(type)) {
    throw badRequest(
      `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(type)})`,
    );
  }
  body.metadata ??= {};
  return body;
}

async function readJson(req: IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text || "{}") as KubeObject;
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status =
    error instanceof StatusError
      ? error.toStatus()
      : statusBody(
          500,
          "InternalError",
          `Internal error occurred: ${(error as Error)?.message ?? String(error)}`,
        );
  sendJson(res, status.code, status);
}

function faultStatus(code: number, retryAfterSeconds?: number) {
  const reason =
    code === 429
      ? "TooManyRequests"
      : code === 503
        ? "ServiceUnavailable"
        : code === 504
          ? "Timeout"
          : "InternalError";
  const message =
    code === 429
      ? "Too many requests, please try again later."
      : "the server is currently unable to handle the request";
  return statusBody(
    code,
    reason as "TooManyRequests",
    message,
    retryAfterSeconds === undefined ? undefined : { retryAfterSeconds },
  );
}

function notFoundPath(): StatusError {
  return new StatusError(404, "NotFound", "the server could not find the requested resource", {});
}

function methodNotAllowed(): StatusError {
  return new StatusError(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
  );
}

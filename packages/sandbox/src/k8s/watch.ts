// `?watch=true`: a chunked stream of newline-delimited `{"type":..., "object":...}` events, starting
// from a resourceVersion (replayed from history) or with ADDED for every current object.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ClusterState } from "./cluster-state.ts";
import type { KubeObject, StoredEvent, WatchEventType } from "./objects.ts";
import { groupResource, type ResourceType } from "./resources.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { StatusError } from "./status.ts";

export function serveWatch(
  state: ClusterState,
  type: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const matchesLabels = parseLabelSelector(query.get("labelSelector"));
  const matchesFields = parseFieldSelector(query.get("fieldSelector"));
  const matches = (o: KubeObject) =>
    (namespace === undefined || o.metadata.namespace === namespace) &&
    matchesLabels(o.metadata.labels) &&
    matchesFields(o);
  const since = query.get("resourceVersion");

  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  // Clients (client-node's Watch) wait for the headers before they return; send them now.
  res.flushHeaders();
  const send = (eventType: WatchEventType | "ERROR", object: unknown) => {
    res.write(`${JSON.stringify({ type: eventType, object })}\n`);
  };

  const resource = groupResource(type);
  // Subscribe before replaying: everything below runs in one turn, so no event falls in between.
  const unsubscribe = state.subscribe((event: StoredEvent) => {
    if (event.resource === resource && matches(event.object)) send(event.type, event.object);
  });
  const stop = () => {
    unsubscribe();
    clearTimeout(timer);
  };
  req.on("close", stop);
  res.on("close", stop);
  const timeoutSeconds = Number(query.get("timeoutSeconds") ?? 0);
  const timer = setTimeout(() => res.end(), (timeoutSeconds > 0 ? timeoutSeconds : 1800) * 1000);
  timer.unref();

  try {
    if (!since || since === "0") {
      for (const object of state.list(type, namespace).filter(matches)) send("ADDED", object);
    } else {
      for (const event of state.eventsSince(type, Number(since))) {
        if (matches(event.object)) send(event.type, event.object);
      }
    }
  } catch (error) {
    // kube-apiserver answers 200 and then an ERROR event (410 Expired) for a too old resourceVersion.
    if (!(error instanceof StatusError)) throw error;
    send("ERROR", error.toStatus());
    res.end();
  }
}

// A local EventBridge for tests, on 127.0.0.1 with a port picked by the OS. It exists so that the Lambda
// handler tests run on a machine without python (hence without the moto peer): the handlers keep their
// real AWS SDK client (pointed here with AWS_ENDPOINT_URL_EVENTBRIDGE), so the SDK's own PutEvents
// request (AWS JSON 1.1: POST /, `X-Amz-Target: AWSEvents.PutEvents`, body `{Entries:[…]}`) is what
// arrives, and each accepted entry is recorded as the envelope a rule target receives.
// Checked, as moto and EventBridge do: the operation, the SigV4 credential scope (service `events`), at
// most 10 entries, Source / DetailType / Detail present, Detail a JSON object, the bus exists (an unknown
// bus fails the whole request with ResourceNotFoundException, as on moto).
// Not checked: the signature itself, the 256 KB size limit, rules and event patterns (every event on a
// bus is recorded; routing by pattern is tested on moto), archives, replays. Every other AWS operation is
// answered with UnknownOperationException, so a test that reaches another service by mistake fails fast.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { pause, waitDeadline } from "./wait.ts";

/** An event as a rule's target receives it from EventBridge. */
export interface BusEnvelope {
  version: "0";
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface LocalEventBridge {
  /** The endpoint for AWS_ENDPOINT_URL_EVENTBRIDGE (or an EventBridgeClient's `endpoint`). */
  endpoint: string;
  /** Creates a bus (PutEvents to a bus that was not created fails). */
  createBus(name: string): void;
  /**
   * Removes and returns the events recorded on `busName`, after waiting (bounded by the test's timeout)
   * until `expected` of them arrived; whatever arrived beyond `expected` is returned too.
   */
  take(busName: string, expected?: number): Promise<BusEnvelope[]>;
  close(): Promise<void>;
}

const ACCOUNT = "123456789012";
const MAX_ENTRIES = 10;

interface Entry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Time?: unknown;
  Resources?: unknown;
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

/** An answer in AWS JSON 1.1. */
interface Answer {
  status: number;
  body: unknown;
}

/** An AWS JSON error: the SDK throws an exception named `type`. */
const failure = (status: number, type: string, message: string): Answer => ({
  status,
  body: { __type: type, message },
});

/** `Time` as the SDK sends it (epoch seconds); EventBridge's envelope carries it to the second. */
function envelopeTime(time: unknown): string {
  const date = typeof time === "number" ? new Date(time * 1000) : new Date();
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function detailObject(detail: unknown): Record<string, unknown> | undefined {
  if (typeof detail !== "string") return undefined;
  try {
    const parsed = JSON.parse(detail) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A bus ARN or name, as its name. */
const busNameOf = (bus: unknown) =>
  typeof bus === "string" && bus !== "" ? (bus.split(":event-bus/")[1] ?? bus) : "default";

export async function startLocalEventBridge(region = "us-east-1"): Promise<LocalEventBridge> {
  const buses = new Map<string, BusEnvelope[]>([["default", []]]);

  function putEvents(body: { Entries?: unknown }): Answer {
    const entries = body.Entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      return failure(400, "ValidationException", `Entries must hold 1 to ${MAX_ENTRIES} entries`);
    }
    const unknownBus = (entries as Entry[]).map((e) => busNameOf(e.EventBusName)).find((b) => !buses.has(b));
    if (unknownBus !== undefined) {
      return failure(400, "ResourceNotFoundException", `Event bus ${unknownBus} does not exist.`);
    }
    const results: EntryResult[] = (entries as Entry[]).map((entry) => {
      for (const field of ["Source", "DetailType", "Detail"] as const) {
        if (typeof entry[field] !== "string" || entry[field] === "") {
          return {
            ErrorCode: "InvalidArgument",
            ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
          };
        }
      }
      const detail = detailObject(entry.Detail);
      if (!detail) return { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." };
      const id = randomUUID();
      buses.get(busNameOf(entry.EventBusName))?.push({
        version: "0",
        id,
        "detail-type": entry.DetailType as string,
        source: entry.Source as string,
        account: ACCOUNT,
        time: envelopeTime(entry.Time),
        region,
        resources: Array.isArray(entry.Resources) ? (entry.Resources as string[]) : [],
        detail,
      });
      return { EventId: id };
    });
    return {
      status: 200,
      body: { FailedEntryCount: results.filter((r) => "ErrorCode" in r).length, Entries: results },
    };
  }

  function serve(req: IncomingMessage, raw: string): Answer {
    const target = req.headers["x-amz-target"];
    if (req.method !== "POST" || target !== "AWSEvents.PutEvents") {
      const what = typeof target === "string" ? target : `${req.method} ${req.url}`;
      return failure(400, "UnknownOperationException", `${what} is not served by the local EventBridge`);
    }
    if (req.headers["content-type"] !== "application/x-amz-json-1.1") {
      return failure(400, "SerializationException", "content-type must be application/x-amz-json-1.1");
    }
    const authorization = req.headers.authorization ?? "";
    if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[^/]+\/events\/aws4_request/.test(authorization)) {
      return failure(403, "IncompleteSignatureException", "the request is not signed for service events");
    }
    let body: { Entries?: unknown };
    try {
      body = JSON.parse(raw) as { Entries?: unknown };
    } catch {
      return failure(400, "SerializationException", "the body is not JSON");
    }
    return putEvents(body);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const { status, body } = serve(req, Buffer.concat(chunks).toString("utf8"));
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
      });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    createBus(name) {
      if (!buses.has(name)) buses.set(name, []);
    },
    async take(busName, expected = 0) {
      const events = buses.get(busName);
      if (!events) throw new Error(`no bus ${busName} on the local EventBridge`);
      // PutEvents is recorded before it is answered: only work still running in the background
      // (an abandoned export, say) can add events later, hence the wait.
      const deadline = waitDeadline();
      while (events.length < expected && Date.now() <= deadline) await pause(10);
      return events.splice(0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

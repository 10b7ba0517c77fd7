// Local HTTP peers for the alert channels, on 127.0.0.1 with a port picked by the OS:
// - a PagerDuty Events API v2 look-alike (`POST /v2/enqueue`) that validates bodies as the real API
//   does and keeps the alerts it opened, so a trigger → resolve round trip can be checked;
// - a Slack incoming-webhook look-alike that checks the block limits and answers `ok`;
// - a generic receiver that records requests.
// Each can be scripted to answer some requests with a given status, or to hang.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  raw: string;
  body: unknown;
}

/** A scripted answer: a status (with optional body/headers), or "hang" (never answer). */
export type Scripted = { status: number; body?: string; headers?: Record<string, string> } | "hang";

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Answers for the next requests, in order, before the normal handler takes over. */
  script(...answers: Scripted[]): void;
  close(): Promise<void>;
}

type Handler = (request: ReceivedRequest, res: ServerResponse) => void;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function start(handler: Handler): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const queue: Scripted[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const request = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, body };
      requests.push(request);
      const next = queue.shift();
      if (next === "hang") return; // keep the socket open, answer nothing
      if (next) {
        res.writeHead(next.status, { "content-type": "application/json", ...next.headers });
        res.end(next.body ?? "");
        return;
      }
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...answers) => queue.push(...answers),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Records requests and answers `status` (default 200) with `body`. */
export function startRecorder(status = 200, body = ""): Promise<Receiver> {
  return start((_req, res) => {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(body);
  });
}

export interface PagerDutyAlert {
  dedupKey: string;
  status: "triggered" | "acknowledged" | "resolved";
  summary?: string;
  severity?: string;
  source?: string;
  customDetails?: Record<string, unknown>;
  /** Every event_action applied, in order. */
  actions: string[];
}

export interface PagerDutyReceiver extends Receiver {
  /** `${url}/v2/enqueue` */
  eventsUrl: string;
  /** Alerts by dedup_key (after resolve, a new trigger opens a new alert under the same key). */
  alerts: Map<string, PagerDutyAlert>;
}

const SEVERITIES = new Set(["critical", "error", "warning", "info"]);
const ACTIONS = new Set(["trigger", "acknowledge", "resolve"]);

/** The shape checks of the real Events API v2; returns the list of problems. */
export function pagerDutyProblems(body: unknown): string[] {
  const errors: string[] = [];
  if (typeof body !== "object" || body === null) return ["Event object is invalid"];
  const e = body as Record<string, unknown>;
  if (typeof e.routing_key !== "string" || e.routing_key.length !== 32) {
    errors.push("'routing_key' must be a 32 character string");
  }
  if (typeof e.event_action !== "string" || !ACTIONS.has(e.event_action)) {
    errors.push("'event_action' is missing or invalid");
  }
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== "string" || e.dedup_key.length > 255)) {
    errors.push("'dedup_key' must be a string of at most 255 characters");
  }
  if ((e.event_action === "resolve" || e.event_action === "acknowledge") && typeof e.dedup_key !== "string") {
    errors.push("'dedup_key' is required for acknowledge and resolve");
  }
  if (e.event_action === "trigger") {
    const p = e.payload as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) {
      errors.push("'payload' is missing or invalid");
    } else {
      if (typeof p.summary !== "string" || p.summary.length === 0 || p.summary.length > 1024) {
        errors.push("'payload.summary' is missing or longer than 1024 characters");
      }
      if (typeof p.source !== "string" || p.source.length === 0) errors.push("'payload.source' is missing");
      if (typeof p.severity !== "string" || !SEVERITIES.has(p.severity)) {
        errors.push("'payload.severity' is missing or invalid");
      }
      if (p.timestamp !== undefined && Number.isNaN(Date.parse(String(p.timestamp)))) {
        errors.push("'payload.timestamp' is not a valid ISO 8601 date");
      }
      if (
        p.custom_details !== undefined &&
        (typeof p.custom_details !== "object" || p.custom_details === null)
      ) {
        errors.push("'payload.custom_details' must be an object");
      }
    }
  }
  return errors;
}

export async function startPagerDuty(): Promise<PagerDutyReceiver> {
  const alerts = new Map<string, PagerDutyAlert>();
  const receiver = await start((req, res) => {
    if (req.method !== "POST" || req.path !== "/v2/enqueue") {
      json(res, 404, { status: "not found" });
      return;
    }
    if (req.body === undefined) {
      json(res, 400, {
        status: "invalid event",
        message: "Event object is invalid",
        errors: ["Invalid JSON"],
      });
      return;
    }
    const errors = pagerDutyProblems(req.body);
    if (errors.length) {
      json(res, 400, { status: "invalid event", message: "Event object is invalid", errors });
      return;
    }
    const e = req.body as {
      event_action: string;
      dedup_key?: string;
      payload?: {
        summary: string;
        severity: string;
        source: string;
        custom_details?: Record<string, unknown>;
      };
    };
    const dedupKey = e.dedup_key ?? randomUUID();
    const existing = alerts.get(dedupKey);
    if (e.event_action === "trigger") {
      if (!existing || existing.status === "resolved") {
        alerts.set(dedupKey, {
          dedupKey,
          status: "triggered",
          summary: e.payload!.summary,
          severity: e.payload!.severity,
          source: e.payload!.source,
          ...(e.payload!.custom_details ? { customDetails: e.payload!.custom_details } : {}),
          actions: [...(existing?.actions ?? []), "trigger"],
        });
      } else {
        existing.actions.push("trigger"); // deduplicated into the open alert
      }
    } else if (existing) {
      existing.actions.push(e.event_action);
      existing.status = e.event_action === "resolve" ? "resolved" : "acknowledged";
    }
    // The real API also answers 202 for a resolve of an unknown key.
    json(res, 202, { status: "success", message: "Event processed", dedup_key: dedupKey });
  });
  return { ...receiver, eventsUrl: `${receiver.url}/v2/enqueue`, alerts };
}

/** A Slack incoming-webhook look-alike: 200 `ok`, or 400 `invalid_blocks` / `no_text`. */
export async function startSlack(): Promise<Receiver> {
  return start((req, res) => {
    const body = req.body as
      | { text?: string; blocks?: unknown[]; attachments?: { blocks?: Record<string, unknown>[] }[] }
      | undefined;
    const text = (s: string) => {
      res.writeHead(s === "ok" ? 200 : 400, { "content-type": "text/html" });
      res.end(s);
    };
    if (!body || (typeof body.text !== "string" && !body.blocks && !body.attachments)) return text("no_text");
    const blocks = [...(body.blocks ?? []), ...(body.attachments ?? []).flatMap((a) => a.blocks ?? [])] as {
      type?: string;
      text?: { type?: string; text?: string };
    }[];
    for (const block of blocks) {
      const t = block.text?.text;
      if (block.type === "header" && (block.text?.type !== "plain_text" || !t || t.length > 150)) {
        return text("invalid_blocks");
      }
      if (block.type === "section" && (!t || t.length > 3000)) return text("invalid_blocks");
    }
    text("ok");
  });
}

/** How an echoing peer writes back what it got. */
export const ECHO_FORMS = {
  plain: (s: string) => s,
  upper: (s: string) => s.toUpperCase(),
  lower: (s: string) => s.toLowerCase(),
  percent: (s: string) => encodeURIComponent(s),
  json: (s: string) => JSON.stringify(s),
  base64: (s: string) => Buffer.from(s).toString("base64"),
  base64url: (s: string) => Buffer.from(s).toString("base64url"),
  hex: (s: string) => Buffer.from(s).toString("hex"),
  /** Plain, after padding that puts the credential across the 300th character of the body. */
  long: (s: string) => s,
} as const;
export type EchoForm = keyof typeof ECHO_FORMS;

/** What an echoing peer quotes: the request line (the URL's path and query), the Authorization header, the body. */
export type EchoPiece = "path" | "authorization" | "body";

export interface EchoReceiver extends Receiver {
  /** How the next answers echo the request (default plain). */
  form: EchoForm;
  /** The piece quoted first (default the request line). */
  lead: EchoPiece;
}

/**
 * A careless peer: answers every request with `status` and an error body quoting what it got, in
 * `form`, as some gateways and misconfigured receivers do. In the `long` form the quote starts after
 * 260 characters, so a credential near the start of the lead piece straddles the 300th character
 * (where an error message's quote of a body is cut) and a long tail follows.
 */
export async function startEcho(status: number, headers: Record<string, string> = {}): Promise<EchoReceiver> {
  const receiver = await start((req, res) => {
    const pieces: Record<EchoPiece, string> = {
      path: `POST ${req.path}`,
      authorization: `authorization: ${req.headers.authorization ?? "-"}`,
      body: req.raw,
    };
    const order = [echo.lead, ...(["path", "authorization", "body"] as const).filter((p) => p !== echo.lead)];
    const quoted = order.map((piece) => ECHO_FORMS[echo.form](pieces[piece])).join("\n");
    res.writeHead(status, { "content-type": "text/plain", ...headers });
    res.end(
      echo.form === "long"
        ? `request refused: ${"x".repeat(260)}${quoted}${"y".repeat(5000)}`
        : `request refused: ${quoted}`,
    );
  });
  // Requests arrive only once this is set; the answers follow `form` and `lead` as they are then.
  const echo: EchoReceiver = Object.assign(receiver, {
    form: "plain" as EchoForm,
    lead: "path" as EchoPiece,
  });
  return echo;
}

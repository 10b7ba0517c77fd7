// Fault injection per route: a rule matches requests to one of the sandbox's servers and makes them
// fail the way real networks and servers do (throttling with Retry-After, slowness, dropped
// connections, short or damaged downloads).
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/** `api` = the Kubernetes API server, `kotsadm` = kotsadm behind the port-forward, `download` = signed URLs. */
export type FaultTarget = "api" | "kotsadm" | "download";

export interface FaultRule {
  target: FaultTarget;
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** A substring of the path (query included), or a RegExp tested against it. */
  path?: string | RegExp;
  /** How many requests the fault applies to; unlimited when omitted. */
  times?: number;
  /** Answer with this status instead of the real response. */
  status?: number;
  /** Sent as `Retry-After` (and in the Status details for the API server). */
  retryAfterSeconds?: number;
  /** Wait this long (real milliseconds) before answering. */
  delayMs?: number;
  /** Close the connection without answering. */
  drop?: boolean;
  /** Downloads: send only this many bytes of the body, then cut the connection. */
  truncateAfterBytes?: number;
  /** Downloads: flip bytes in the middle of the body (the length stays right). */
  corrupt?: boolean;
}

export interface FaultHit {
  id: number;
  target: FaultTarget;
  method: string;
  path: string;
}

export class Faults {
  private readonly rules = new Map<number, FaultRule & { remaining: number }>();
  private nextId = 1;
  /** Every request a fault was applied to, oldest first. */
  readonly hits: FaultHit[] = [];

  /** Adds a rule and returns its id (for `remove`). Rules are tried in the order they were added. */
  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.set(id, { ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
    return id;
  }

  remove(id: number): void {
    this.rules.delete(id);
  }

  clear(): void {
    this.rules.clear();
  }

  /** The first rule matching this request, consuming one of its `times`. */
  take(target: FaultTarget, method: string, path: string): FaultRule | undefined {
    for (const [id, rule] of this.rules) {
      if (rule.target !== target || rule.remaining <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (
        rule.path !== undefined &&
        !(typeof rule.path === "string" ? path.includes(rule.path) : rule.path.test(path))
      ) {
        continue;
      }
      rule.remaining -= 1;
      this.hits.push({ id, target, method, path });
      return rule;
    }
    return undefined;
  }

  /**
   * Applies the delay/drop/status part of a matching rule. Returns `handled` when the response was
   * already decided, and the rule itself so body faults (truncate, corrupt) can be applied later.
   */
  async apply(
    target: FaultTarget,
    req: IncomingMessage,
    res: ServerResponse,
    statusBody: (status: number, retryAfterSeconds?: number) => unknown,
  ): Promise<{ handled: boolean; rule?: FaultRule }> {
    const rule = this.take(target, req.method ?? "GET", req.url ?? "/");
    if (!rule) return { handled: false };
    if (rule.delayMs) await sleep(rule.delayMs);
    if (rule.drop) {
      req.socket.destroy();
      return { handled: true, rule };
    }
    if (rule.status !== undefined) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (rule.retryAfterSeconds !== undefined) headers["retry-after"] = String(rule.retryAfterSeconds);
      res.writeHead(rule.status, headers);
      res.end(JSON.stringify(statusBody(rule.status, rule.retryAfterSeconds)));
      return { handled: true, rule };
    }
    return { handled: false, rule };
  }
}

/** Sends a body, honouring a rule's truncate/corrupt faults. */
export function sendBody(res: ServerResponse, body: Buffer, rule: FaultRule | undefined): void {
  if (rule?.corrupt && body.length > 0) {
    body = Buffer.from(body);
    const middle = Math.floor(body.length / 2);
    for (let i = middle; i < Math.min(body.length, middle + 16); i++) body[i] = body[i]! ^ 0xff;
  }
  if (rule?.truncateAfterBytes !== undefined && rule.truncateAfterBytes < body.length) {
    // Announce the full length, send less, then cut: the client sees a premature close.
    res.write(body.subarray(0, rule.truncateAfterBytes), () => res.socket?.destroy());
    return;
  }
  res.end(body);
}

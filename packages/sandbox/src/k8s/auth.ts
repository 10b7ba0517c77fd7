// Bearer-token authentication: an admin token (bypasses RBAC) and the kots-backup service account's.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { StatusError } from "./status.ts";

export interface Caller {
  username: string;
  admin: boolean;
  serviceAccount?: { namespace: string; name: string };
}

export class TokenAuthenticator {
  readonly adminToken = randomBytes(24).toString("hex");
  readonly serviceAccountToken: string;
  private readonly callers = new Map<string, Caller>();

  constructor(serviceAccount: { namespace: string; name: string }) {
    // Shaped like a projected SA token's first segment so logs that redact "eyJ…" keep working.
    this.serviceAccountToken = `eyJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString("hex")}`;
    this.callers.set(this.adminToken, { username: "kubernetes-admin", admin: true });
    this.callers.set(this.serviceAccountToken, {
      username: `system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`,
      admin: false,
      serviceAccount,
    });
  }

  /** The caller for the request's bearer token; 401 Unauthorized otherwise. */
  authenticate(req: IncomingMessage): Caller {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const caller = match ? this.callers.get(match[1]!) : undefined;
    if (!caller) throw new StatusError(401, "Unauthorized", "Unauthorized");
    return caller;
  }
}

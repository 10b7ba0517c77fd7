// The simulated kotsadm API (port 3000 of the `app=kotsadm` pod), reachable only through the
// port-forward. Routes, auth and answers follow kots' handlers (kots-velero.md §1.2–§1.4, §4, §11).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type Duplex, duplexPair } from "node:stream";
import type { SandboxClock } from "../clock.ts";
import type { Faults } from "../faults.ts";
import { sendBody } from "../faults.ts";
import type { ClusterState } from "../k8s/cluster-state.ts";
import type { KubeObject } from "../k8s/objects.ts";
import type { ResourceRegistry } from "../k8s/resources.ts";
import { appArchive } from "./app-archive.ts";
import { appBackup, type BackupContext, instanceBackup, type KotsApp } from "./backup-specs.ts";
import { snapshotView } from "./snapshot-view.ts";

export const KOTSADM_PORT = 3000;
export const AUTHSTRING_SECRET = "kotsadm-authstring";

export interface KotsadmRequest {
  method: string;
  /** Path with query string. */
  path: string;
  /** Sandbox-clock time, RFC 3339. */
  time: string;
  status: number;
}

export interface KotsadmOptions {
  namespace: string;
  veleroNamespace: string;
  apps: KotsApp[];
  image: string;
  clock: SandboxClock;
  state: ClusterState;
  registry: ResourceRegistry;
  faults: Faults;
}

export class Kotsadm {
  /** Every request kotsadm answered, oldest first (count backup POSTs with it). */
  readonly requests: KotsadmRequest[] = [];
  /** Minimal-RBAC kotsadm without access to Velero's namespace: backup routes answer 409. */
  refuseVeleroAccess = false;
  /** Embedded Cluster: app ("partial") backups answer 403. */
  embeddedCluster = false;
  readonly apps: KotsApp[];
  private readonly options: KotsadmOptions;
  private readonly server: Server;
  private readonly connections = new Set<Duplex>();

  constructor(options: KotsadmOptions) {
    this.options = options;
    this.apps = options.apps;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { error: (error as Error).message });
        else res.destroy();
      });
    });
    // Go's http.Server (kotsadm) keeps idle connections open; closing them would strand
    // client-node's PortForward, which does not pass a WebSocket close on to its local socket.
    this.server.keepAliveTimeout = 0;
  }

  /** Opens a connection to kotsadm's port inside the pod; used by the port-forward. */
  dial(namespace: string, pod: string, port: number): Duplex | { error: string } {
    const podObject = this.options.state.find(this.options.registry.byResource("", "pods"), namespace, pod);
    if (
      port !== KOTSADM_PORT ||
      podObject?.metadata.labels?.app !== "kotsadm" ||
      namespace !== this.options.namespace
    ) {
      return {
        error: `error forwarding port ${port} to pod ${podObject?.metadata.uid ?? pod}, uid : failed to connect to localhost:${port} inside namespace "${namespace}": connection refused`,
      };
    }
    const [forwarded, inside] = duplexPair();
    this.connections.add(inside);
    inside.on("close", () => this.connections.delete(inside));
    this.server.emit("connection", inside);
    return forwarded;
  }

  /** The current auth string, read from Secret kotsadm-authstring like kotsadm does. */
  authString(): string | undefined {
    const secret = this.options.state.find(
      this.options.registry.byResource("", "secrets"),
      this.options.namespace,
      AUTHSTRING_SECRET,
    );
    const encoded = secret?.data?.[AUTHSTRING_SECRET] as string | undefined;
    return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
  }

  /** How many backup-creating POSTs kotsadm received (instance and app). */
  backupRequestCount(): number {
    return this.requests.filter((r) => r.method === "POST" && /\/snapshot\/backup$/.test(r.path)).length;
  }

  close(): void {
    for (const connection of this.connections) connection.destroy();
    this.server.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    res.on("finish", () =>
      this.requests.push({ method, path, time: this.options.clock.iso(), status: res.statusCode }),
    );
    const fault = await this.options.faults.apply("kotsadm", req, res, (code) => ({
      error: `simulated ${code}`,
    }));
    if (fault.handled) return;
    const url = new URL(path, "http://kotsadm");

    // Token-auth route: header only, and a wrong token gets an empty 200 (kots-velero.md §11).
    if (method === "GET" && url.pathname === "/api/v1/download") {
      if (!this.validHeader(req)) {
        res.writeHead(200);
        res.end();
        return;
      }
      const app = this.apps.find((a) => a.slug === url.searchParams.get("slug"));
      if (!app) return json(res, 404, { error: "app not found" });
      const archive = await appArchive(app, this.options.clock);
      res.writeHead(200, {
        "content-type": "application/gzip",
        "content-disposition": "attachment; filename=archive.tar.gz",
        "content-length": archive.length,
      });
      return sendBody(res, archive, fault.rule);
    }

    if (!this.validSession(req)) return json(res, 401, { error: "Unauthorized" });

    if (method === "POST" && url.pathname === "/api/v1/snapshot/backup")
      return this.createInstanceBackup(res);
    const appBackupRoute = /^\/api\/v1\/app\/([^/]+)\/snapshot\/backup$/.exec(url.pathname);
    if (method === "POST" && appBackupRoute)
      return this.createAppBackup(res, decodeURIComponent(appBackupRoute[1]!));
    if (method === "GET" && url.pathname === "/api/v1/snapshots") {
      return json(res, 200, {
        backups: this.kotsBackups((b) => isInstanceBackup(b, this.options.namespace)),
      });
    }
    const appSnapshots = /^\/api\/v1\/app\/([^/]+)\/snapshots$/.exec(url.pathname);
    if (method === "GET" && appSnapshots) {
      const app = this.apps.find((a) => a.slug === decodeURIComponent(appSnapshots[1]!));
      if (!app) return json(res, 404, { error: "app not found" });
      return json(res, 200, {
        backups: this.kotsBackups((b) => b.metadata.annotations?.["kots.io/app-id"] === app.id),
      });
    }
    if (method === "GET" && url.pathname === "/api/v1/apps")
      return json(res, 200, { apps: this.apps.map(appView) });
    return json(res, 404, { error: "not found" });
  }

  private createInstanceBackup(res: ServerResponse) {
    if (this.refuseVeleroAccess) return json(res, 409, this.veleroAccessRefusal());
    if (!this.defaultBslExists())
      return json(res, 500, { success: false, error: "no backup store location found" });
    const created = this.createBackup(instanceBackup(this.backupContext()));
    json(res, 200, { success: true, backupName: created.metadata.name, error: "" });
  }

  private createAppBackup(res: ServerResponse, slug: string) {
    if (this.embeddedCluster)
      return json(res, 403, { error: "partial backups are not supported on embedded clusters" });
    if (this.refuseVeleroAccess) return json(res, 409, this.veleroAccessRefusal());
    const app = this.apps.find((a) => a.slug === slug);
    if (!app) return json(res, 404, { success: false, error: `failed to get app from slug ${slug}` });
    if (!this.defaultBslExists())
      return json(res, 500, { success: false, error: "no backup store location found" });
    this.createBackup(appBackup(this.backupContext(), app));
    // Real kotsadm answers only success: the caller finds the Backup by kots.io/app-id and time.
    json(res, 200, { success: true });
  }

  private createBackup(backup: KubeObject): KubeObject {
    const type = this.options.registry.byResource("velero.io", "backups");
    return this.options.state.create(type, backup, this.options.veleroNamespace);
  }

  backupContext(trigger: "manual" | "schedule" = "manual"): BackupContext {
    return {
      kotsadmNamespace: this.options.namespace,
      veleroNamespace: this.options.veleroNamespace,
      kotsadmImage: this.options.image,
      apps: this.apps,
      trigger,
      requestedAt: this.options.clock.iso(),
    };
  }

  private veleroAccessRefusal() {
    return {
      success: false,
      error: `kotsadm does not have access to the velero namespace; run "kubectl kots velero ensure-permissions --namespace ${this.options.namespace} --velero-namespace ${this.options.veleroNamespace}"`,
      kotsadmNamespace: this.options.namespace,
      kotsadmRequiresVeleroAccess: true,
    };
  }

  private defaultBslExists(): boolean {
    const type = this.options.registry.byResource("velero.io", "backupstoragelocations");
    return this.options.state.find(type, this.options.veleroNamespace, "default") !== undefined;
  }

  private kotsBackups(filter: (backup: KubeObject) => boolean) {
    const type = this.options.registry.byResource("velero.io", "backups");
    const backups = this.options.state.list(type, this.options.veleroNamespace).filter(filter);
    // kotsadm returns them in no particular order; a stable shuffle keeps tests reproducible.
    return shuffle(backups).map((b) => snapshotView(b, this.apps));
  }

  private validHeader(req: IncomingMessage): boolean {
    const expected = this.authString();
    return expected !== undefined && req.headers.authorization === expected;
  }

  /** Session auth: the `Authorization` header, else the `signed-token` cookie (kots session.Parse). */
  private validSession(req: IncomingMessage): boolean {
    if (req.headers.authorization) return this.validHeader(req);
    const cookie = /(?:^|;\s*)signed-token=([^;]*)/.exec(req.headers.cookie ?? "");
    const expected = this.authString();
    return cookie !== null && expected !== undefined && decodeURIComponent(cookie[1]!) === expected;
  }
}

export function isInstanceBackup(backup: KubeObject, kotsadmNamespace: string): boolean {
  const annotations = backup.metadata.annotations ?? {};
  const instance =
    annotations["kots.io/instance"] === "true" || "replicated.com/disaster-recovery-version" in annotations;
  return instance && annotations["kots.io/kotsadm-deploy-namespace"] === kotsadmNamespace;
}

function appView(app: KotsApp) {
  return {
    id: app.id,
    slug: app.slug,
    name: app.name,
    currentSequence: app.sequence,
    downstream: {
      name: "this-cluster",
      currentVersion: {
        sequence: app.sequence,
        parentSequence: app.sequence,
        versionLabel: app.versionLabel,
        status: "deployed",
      },
    },
  };
}

/** A deterministic order that is not sorted by name or time. */
function shuffle<T extends KubeObject>(items: T[]): T[] {
  const rank = (o: T) => {
    let hash = 2166136261;
    for (const ch of o.metadata.uid ?? o.metadata.name ?? "")
      hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619);
    return hash >>> 0;
  };
  return [...items].sort((a, b) => rank(a) - rank(b));
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function newAppId(): string {
  return randomUUID().replaceAll("-", "").slice(0, 27);
}

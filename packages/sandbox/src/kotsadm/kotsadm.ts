// The simulated kotsadm API (port 3000 of the `app=kotsadm` pod), reachable only through the
// port-forward. Routes, auth and answers follow kots' handlers (kots-velero.md §1.2–§1.4, §4, §11).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type Duplex, duplexPair } from "node:stream";
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

/**
 * What kotsadm reads and writes in its cluster: the sandbox's in-memory state (`stateCluster`), or a real
 * kube-apiserver (test/support/real-kotsadm.ts), so one kotsadm serves both.
 */
export interface KotsadmCluster {
  /** The value of Secret kotsadm-authstring in kotsadm's namespace, as kotsadm reads it. */
  authString(): Promise<string | undefined>;
  defaultBslExists(): Promise<boolean>;
  /** Creates the Backup in Velero's namespace (generateName resolved) and returns it. */
  createBackup(backup: KubeObject): Promise<KubeObject>;
  listBackups(): Promise<KubeObject[]>;
}

export interface KotsadmOptions {
  namespace: string;
  veleroNamespace: string;
  apps: KotsApp[];
  image: string;
  /** The sandbox clock, or the real time for a real cluster. */
  clock: { iso(): string; now(): Date };
  cluster: KotsadmCluster;
  faults: Faults;
}

/** kotsadm's view of the sandbox's in-memory cluster. */
export function stateCluster(
  state: ClusterState,
  registry: ResourceRegistry,
  namespaces: { kotsadm: string; velero: string },
): KotsadmCluster {
  const backups = registry.byResource("velero.io", "backups");
  return {
    async authString() {
      const secret = state.find(registry.byResource("", "secrets"), namespaces.kotsadm, AUTHSTRING_SECRET);
      const encoded = secret?.data?.[AUTHSTRING_SECRET] as string | undefined;
      return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
    },
    async defaultBslExists() {
      const type = registry.byResource("velero.io", "backupstoragelocations");
      return state.find(type, namespaces.velero, "default") !== undefined;
    },
    async createBackup(backup) {
      return state.create(backups, backup, namespaces.velero);
    },
    async listBackups() {
      return state.list(backups, namespaces.velero);
    },
  };
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

  /** Opens a connection to kotsadm's HTTP server (what a port-forward to port 3000 of its pod reaches). */
  connect(): Duplex {
    const [forwarded, inside] = duplexPair();
    this.connections.add(inside);
    inside.on("close", () => this.connections.delete(inside));
    this.server.emit("connection", inside);
    return forwarded;
  }

  /** The auth string kotsadm accepts now (Secret kotsadm-authstring). */
  authString(): Promise<string | undefined> {
    return this.options.cluster.authString();
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
      if (!(await this.validHeader(req))) {
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

    if (!(await this.validSession(req))) return json(res, 401, { error: "Unauthorized" });

    if (method === "POST" && url.pathname === "/api/v1/snapshot/backup")
      return await this.createInstanceBackup(res);
    const appBackupRoute = /^\/api\/v1\/app\/([^/]+)\/snapshot\/backup$/.exec(url.pathname);
    if (method === "POST" && appBackupRoute)
      return await this.createAppBackup(res, decodeURIComponent(appBackupRoute[1]!));
    if (method === "GET" && url.pathname === "/api/v1/snapshots") {
      return json(res, 200, {
        backups: await this.kotsBackups((b) => isInstanceBackup(b, this.options.namespace)),
      });
    }
    const appSnapshots = /^\/api\/v1\/app\/([^/]+)\/snapshots$/.exec(url.pathname);
    if (method === "GET" && appSnapshots) {
      const app = this.apps.find((a) => a.slug === decodeURIComponent(appSnapshots[1]!));
      if (!app) return json(res, 404, { error: "app not found" });
      return json(res, 200, {
        backups: await this.kotsBackups((b) => b.metadata.annotations?.["kots.io/app-id"] === app.id),
      });
    }
    if (method === "GET" && url.pathname === "/api/v1/apps")
      return json(res, 200, { apps: this.apps.map(appView) });
    return json(res, 404, { error: "not found" });
  }

  private async createInstanceBackup(res: ServerResponse) {
    if (this.refuseVeleroAccess) return json(res, 409, this.veleroAccessRefusal());
    if (!(await this.options.cluster.defaultBslExists()))
      return json(res, 500, { success: false, error: "no backup store location found" });
    const created = await this.options.cluster.createBackup(instanceBackup(this.backupContext()));
    json(res, 200, { success: true, backupName: created.metadata.name, error: "" });
  }

  private async createAppBackup(res: ServerResponse, slug: string) {
    if (this.embeddedCluster)
      return json(res, 403, { error: "partial backups are not supported on embedded clusters" });
    if (this.refuseVeleroAccess) return json(res, 409, this.veleroAccessRefusal());
    const app = this.apps.find((a) => a.slug === slug);
    if (!app) return json(res, 404, { success: false, error: `failed to get app from slug ${slug}` });
    if (!(await this.options.cluster.defaultBslExists()))
      return json(res, 500, { success: false, error: "no backup store location found" });
    await this.options.cluster.createBackup(appBackup(this.backupContext(), app));
    // Real kotsadm answers only success: the caller finds the Backup by kots.io/app-id and time.
    json(res, 200, { success: true });
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

  private async kotsBackups(filter: (backup: KubeObject) => boolean) {
    const backups = (await this.options.cluster.listBackups()).filter(filter);
    // kotsadm returns them in no particular order; a stable shuffle keeps tests reproducible.
    return shuffle(backups).map((b) => snapshotView(b, this.apps));
  }

  private async validHeader(req: IncomingMessage): Promise<boolean> {
    const expected = await this.options.cluster.authString();
    return expected !== undefined && req.headers.authorization === expected;
  }

  /** Session auth: the `Authorization` header, else the `signed-token` cookie (kots session.Parse). */
  private async validSession(req: IncomingMessage): Promise<boolean> {
    if (req.headers.authorization) return this.validHeader(req);
    const cookie = /(?:^|;\s*)signed-token=([^;]*)/.exec(req.headers.cookie ?? "");
    const expected = await this.options.cluster.authString();
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

// DownloadRequest controller (velero download_request_controller.go): for a request whose Backup
// (or Restore) and BSL exist, set a signed URL, phase Processed and expiration = now + 10 min;
// delete requests once expired. A missing Backup or BSL leaves the request unprocessed forever.
import type { SandboxClock } from "../clock.ts";
import type { ClusterState } from "../k8s/cluster-state.ts";
import type { KubeObject } from "../k8s/objects.ts";
import type { ResourceRegistry } from "../k8s/resources.ts";
import { downloadKey } from "./layout.ts";
import type { SignedUrlServer } from "./signed-urls.ts";

export class DownloadRequestController {
  /** Scenario switch: when false, requests are never processed (clients must time out). */
  processRequests = true;
  private readonly state: ClusterState;
  private readonly registry: ResourceRegistry;
  private readonly clock: SandboxClock;
  private readonly namespace: string;
  private readonly urls: SignedUrlServer;

  constructor(options: {
    state: ClusterState;
    registry: ResourceRegistry;
    clock: SandboxClock;
    namespace: string;
    urls: SignedUrlServer;
  }) {
    this.state = options.state;
    this.registry = options.registry;
    this.clock = options.clock;
    this.namespace = options.namespace;
    this.urls = options.urls;
  }

  nextDeadline(): number | undefined {
    const expirations = this.requests()
      .map((r) => (r.status?.expiration ? Date.parse(r.status.expiration) + 1000 : undefined))
      .filter((d): d is number => d !== undefined);
    return expirations.length ? Math.min(...expirations) : undefined;
  }

  reconcile(): boolean {
    let changed = false;
    const type = this.registry.byResource("velero.io", "downloadrequests");
    for (const request of this.requests()) {
      const name = request.metadata.name!;
      if (request.status?.phase === "Processed") {
        if (Date.parse(request.status.expiration) < this.clock.nowMs()) {
          this.state.delete(type, this.namespace, name);
          changed = true;
        }
        continue;
      }
      if (!this.processRequests) continue;
      const url = this.urlFor(request);
      if (!url) continue;
      this.state.mutate(type, this.namespace, name, (r) => {
        r.status = { phase: "Processed", downloadURL: url.url, expiration: this.clock.iso(url.expiresMs) };
      });
      changed = true;
    }
    return changed;
  }

  private urlFor(request: KubeObject): { url: string; expiresMs: number } | undefined {
    const target = request.spec?.target ?? {};
    const mapped = downloadKey(target.kind, target.name);
    if (!mapped) return undefined;
    const ownerType = this.registry.byResource("velero.io", mapped.of === "backup" ? "backups" : "restores");
    const owner = this.state.find(ownerType, this.namespace, target.name);
    if (!owner) return undefined;
    let backup = owner;
    if (mapped.of === "restore") {
      backup = this.state.find(
        this.registry.byResource("velero.io", "backups"),
        this.namespace,
        owner.spec?.backupName,
      )!;
      if (!backup) return undefined;
    }
    const location = backup.spec?.storageLocation || "default";
    const bsl = this.state.find(
      this.registry.byResource("velero.io", "backupstoragelocations"),
      this.namespace,
      location,
    );
    if (!bsl) return undefined;
    return this.urls.sign(mapped.key);
  }

  private requests(): KubeObject[] {
    return this.state.list(this.registry.byResource("velero.io", "downloadrequests"), this.namespace);
  }
}

// kotsadm's merge of an app's own Backup resource into the Backups it creates (kots' mergeAppBackupSpec
// for instance backups, CreateApplicationBackup for app backups), and the result against Velero's CRD.
import { describe, expect, it } from "vitest";
import { loadCrds } from "../k8s/crds.ts";
import {
  appBackup,
  type BackupContext,
  instanceBackup,
  type KotsApp,
  type VendorBackup,
} from "./backup-specs.ts";

const vendor: VendorBackup = {
  annotations: { "vendor.example.com/owner": "web-team", "kots.io/instance": "false" },
  spec: {
    includedNamespaces: ["my-app-cache"],
    excludedNamespaces: ["scratch"],
    includedResources: ["configmaps"],
    excludedResources: ["secrets"],
    labelSelector: { matchLabels: { tier: "web", "kots.io/app-slug": "vendor-says" } },
    orLabelSelectors: [{ matchLabels: { "backup.example.com/include": "true" } }],
    orderedResources: { pods: "my-app/web-0,my-app/web-1" },
    hooks: {
      resources: [
        {
          name: "flush-cache",
          includedNamespaces: ["my-app"],
          pre: [
            { exec: { container: "cache", command: ["/bin/sync"], onError: "Continue", timeout: "30s" } },
          ],
        },
      ],
    },
    ttl: "48h0m0s",
  },
};

const app = (backup?: VendorBackup): KotsApp => ({
  id: "app-1",
  slug: "my-app",
  name: "My App",
  sequence: 3,
  versionLabel: "1.4.2",
  namespace: "my-app",
  ...(backup ? { backup } : {}),
});

const context = (apps: KotsApp[]): BackupContext => ({
  kotsadmNamespace: "default",
  veleroNamespace: "velero",
  kotsadmImage: "kotsadm/kotsadm:v1.124.0",
  apps,
  trigger: "manual",
  requestedAt: "2026-12-04T12:00:00Z",
});

const crds = loadCrds();
const backupType = crds.types.find((t) => t.kind === "Backup");
if (!backupType) throw new Error("no Backup CRD");
// The apiserver assigns the name from generateName; the CRD schema sees the object after that.
const named = (object: ReturnType<typeof instanceBackup>) => ({
  ...object,
  metadata: { ...object.metadata, name: "named" },
});

describe("instance backup with an app's own Backup resource", () => {
  const backup = instanceBackup(context([app(vendor)]));

  it("merges the vendor's annotations first, so kotsadm's win", () => {
    expect(backup.metadata.annotations).toMatchObject({
      "vendor.example.com/owner": "web-team",
      "kots.io/instance": "true",
    });
  });

  it("adds the vendor's namespaces, exclusions, selectors, ordering and hooks", () => {
    expect(backup.spec).toMatchObject({
      includedNamespaces: ["default", "my-app", "my-app-cache"],
      excludedNamespaces: ["scratch"],
      orLabelSelectors: [
        { matchLabels: { "kots.io/backup": "velero" } },
        { matchLabels: { "backup.example.com/include": "true" } },
      ],
      orderedResources: { pods: "my-app/web-0,my-app/web-1" },
      hooks: { resources: [expect.objectContaining({ name: "flush-cache" })] },
      ttl: "720h0m0s",
    });
  });

  it("ignores the vendor's labelSelector and resource filters (Velero refuses labelSelector with orLabelSelectors)", () => {
    expect(backup.spec).not.toHaveProperty("labelSelector");
    expect(backup.spec).not.toHaveProperty("includedResources");
    expect(backup.spec).not.toHaveProperty("excludedResources");
  });

  it("collapses the namespaces to * when a vendor asks for all", () => {
    const all = instanceBackup(context([app({ spec: { includedNamespaces: ["*"] } })]));
    expect(all.spec?.["includedNamespaces"]).toEqual(["*"]);
  });

  it("is what it was without a vendor Backup", () => {
    expect(instanceBackup(context([app()])).spec).toEqual({
      includedNamespaces: ["default", "my-app"],
      excludedNamespaces: [],
      orLabelSelectors: [{ matchLabels: { "kots.io/backup": "velero" } }],
      includeClusterResources: true,
      storageLocation: "default",
      ttl: "720h0m0s",
      orderedResources: {},
      hooks: { resources: [] },
    });
  });

  it("matches Velero's Backup CRD", () => {
    expect(() => crds.validate(backupType, named(backup))).not.toThrow();
  });
});

describe("app backup with the app's own Backup resource", () => {
  const backup = appBackup(context([app(vendor)]), app(vendor));

  it("keeps the vendor's spec but for what kotsadm sets", () => {
    expect(backup.spec).toMatchObject({
      includedNamespaces: ["my-app", "my-app-cache"],
      includedResources: ["configmaps"],
      excludedResources: ["secrets"],
      orderedResources: { pods: "my-app/web-0,my-app/web-1" },
      hooks: { resources: [expect.objectContaining({ name: "flush-cache" })] },
      labelSelector: { matchLabels: { tier: "web", "kots.io/app-slug": "my-app" } },
      storageLocation: "default",
      ttl: "720h0m0s",
      includeClusterResources: true,
    });
    expect(backup.metadata.annotations).toMatchObject({
      "vendor.example.com/owner": "web-team",
      "kots.io/app-id": "app-1",
    });
  });

  it("matches Velero's Backup CRD", () => {
    expect(() => crds.validate(backupType, named(backup))).not.toThrow();
  });
});

// The tar.gz `GET /api/v1/download?slug=` returns: the app's upstream, base and overlays trees,
// as `kubectl kots download` extracts them (kots-velero.md §4). Content is small but realistic.
import { createTarGz } from "../tar.ts";
import type { KotsApp } from "./backup-specs.ts";

export function appArchive(app: KotsApp, clock: { now(): Date }): Promise<Buffer> {
  const appYaml = `apiVersion: kots.io/v1beta1
kind: Application
metadata:
  name: ${app.slug}
spec:
  title: ${app.name}
`;
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app.slug}
spec:
  replicas: 1
  selector:
    matchLabels: { app: ${app.slug} }
  template:
    metadata:
      labels: { app: ${app.slug} }
    spec:
      containers:
        - name: ${app.slug}
          image: registry.example.com/${app.slug}:${app.versionLabel}
`;
  return createTarGz(
    [
      {
        name: "upstream/userdata/installation.yaml",
        body: `apiVersion: kots.io/v1beta1\nkind: Installation\nmetadata:\n  name: ${app.slug}\nspec:\n  versionLabel: ${app.versionLabel}\n`,
      },
      {
        name: "upstream/userdata/config.yaml",
        body: `apiVersion: kots.io/v1beta1\nkind: ConfigValues\nmetadata:\n  name: ${app.slug}\nspec:\n  values:\n    hostname:\n      value: ${app.slug}.example.com\n`,
      },
      { name: "upstream/kots-app.yaml", body: appYaml },
      { name: "upstream/deployment.yaml", body: deployment },
      {
        name: "base/kustomization.yaml",
        body: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n",
      },
      { name: "base/deployment.yaml", body: deployment },
      {
        name: "overlays/midstream/kustomization.yaml",
        body: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbases:\n  - ../../base\ntransformers:\n  - backup-label-transformer.yaml\n",
      },
      {
        name: "overlays/midstream/backup-label-transformer.yaml",
        body: `apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: backup-label-transformer\nlabels:\n  kots.io/backup: velero\n  kots.io/app-slug: ${app.slug}\nfieldSpecs:\n  - path: metadata/labels\n    create: true\n`,
      },
      {
        name: "overlays/downstreams/this-cluster/kustomization.yaml",
        body: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbases:\n  - ../../midstream\n",
      },
    ],
    clock.now(),
  );
}

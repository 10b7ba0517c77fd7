// Velero's CustomResourceDefinitions, vendored in packages/sandbox/fixtures/velero-crds (v1.18.1; source in
// its README), give both the resource types (plural, kind, scope) and the openAPIV3Schema every write is
// validated against.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EnvironmentError } from "@kots-backup/core";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import type { KubeObject } from "./objects.ts";
import { groupResource, type ResourceType } from "./resources.ts";
import { invalid } from "./status.ts";

/** The CRDs vendored with the sandbox (Velero v1.18.1). */
export const defaultCrdDirectory = fileURLToPath(new URL("../../fixtures/velero-crds/", import.meta.url));

export interface LoadedCrds {
  types: ResourceType[];
  /** Throws a 422 StatusError when a Velero object does not match its CRD schema. */
  validate(type: ResourceType, object: KubeObject): void;
}

interface CrdDocument {
  spec: {
    group: string;
    names: { kind: string; plural: string };
    scope: "Namespaced" | "Cluster";
    versions: {
      name: string;
      served: boolean;
      schema?: { openAPIV3Schema?: object };
      subresources?: object;
    }[];
  };
}

export function loadCrds(directory: string = defaultCrdDirectory): LoadedCrds {
  if (!existsSync(directory)) {
    throw new EnvironmentError("sandbox-crds-missing", `Velero CRDs not found at ${directory}`, {
      fix: "the sandbox reads packages/sandbox/fixtures/velero-crds; restore that folder from git",
    });
  }
  const files = readdirSync(directory).filter((f) => f.endsWith(".yaml"));
  if (files.length === 0) {
    throw new EnvironmentError("sandbox-crds-missing", `no CRD YAML files in ${directory}`);
  }
  // Kubernetes structural schemas carry x-kubernetes-* markers and `format: int`/`int-or-string`;
  // ajv must ignore the markers and accept the formats it does not know.
  const ajv = new Ajv({ strict: false, allErrors: true, verbose: true, validateFormats: true });
  ajv.addFormat("date-time", { validate: (value: string) => !Number.isNaN(Date.parse(value)) });
  for (const format of ["int", "int-or-string", "byte", "int32", "int64", "double", "float"]) {
    ajv.addFormat(format, true);
  }
  const types: ResourceType[] = [];
  const validators = new Map<string, ValidateFunction>();
  for (const file of files.sort()) {
    const crd = parse(readFileSync(`${directory}/${file}`, "utf8")) as CrdDocument;
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      const type: ResourceType = {
        group: crd.spec.group,
        version: version.name,
        plural: crd.spec.names.plural,
        kind: crd.spec.names.kind,
        namespaced: crd.spec.scope === "Namespaced",
        builtin: false,
      };
      types.push(type);
      if (version.schema?.openAPIV3Schema) {
        validators.set(`${groupResource(type)}/${type.version}`, ajv.compile(version.schema.openAPIV3Schema));
      }
    }
  }
  return {
    types,
    validate(type, object) {
      const check = validators.get(`${groupResource(type)}/${type.version}`);
      const data: unknown = object;
      if (!check || check(data)) return;
      throw invalid(type.kind, type.group, object.metadata?.name ?? "", (check.errors ?? []).map(toCause));
    },
  };
}

/** ajv's `/spec/ttl must be string` → `spec.ttl: Invalid value: ...: must be string`, as kube-apiserver words it. */
function toCause(error: ErrorObject): { field: string; message: string } {
  const field = error.instancePath.slice(1).replaceAll("/", ".") || "<root>";
  const extra =
    error.keyword === "enum"
      ? ` (${(error.params as { allowedValues: unknown[] }).allowedValues.join(", ")})`
      : "";
  const value = JSON.stringify(error.data) ?? "null";
  return {
    field,
    message: `Invalid value: ${value}: ${field} in body ${error.message ?? "is invalid"}${extra}`,
  };
}

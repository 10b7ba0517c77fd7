// JSON merge patch (RFC 7386) and JSON patch (RFC 6902), the two patch types CRDs accept.
import type { KubeObject } from "./objects.ts";
import { StatusError } from "./status.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

interface Operation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: Json;
  from?: string;
}

export function jsonPatch(target: KubeObject, operations: unknown): KubeObject {
  if (!Array.isArray(operations)) throw patchError("json patch must be an array of operations");
  let doc = structuredClone(target) as unknown as Json;
  for (const operation of operations as Operation[]) {
    switch (operation.op) {
      case "add":
        doc = setAt(doc, operation.path, structuredClone(operation.value ?? null), "add");
        break;
      case "replace":
        getAt(doc, operation.path);
        doc = setAt(doc, operation.path, structuredClone(operation.value ?? null), "replace");
        break;
      case "remove":
        getAt(doc, operation.path);
        doc = removeAt(doc, operation.path);
        break;
      case "copy":
        doc = setAt(doc, operation.path, structuredClone(getAt(doc, operation.from ?? "")), "add");
        break;
      case "move": {
        const value = getAt(doc, operation.from ?? "");
        doc = setAt(removeAt(doc, operation.from ?? ""), operation.path, value, "add");
        break;
      }
      case "test":
        if (JSON.stringify(getAt(doc, operation.path)) !== JSON.stringify(operation.value)) {
          throw patchError(`testing value ${operation.path} failed`);
        }
        break;
      default:
        throw patchError(`unexpected kind: ${String((operation as { op: unknown }).op)}`);
    }
  }
  return doc as unknown as KubeObject;
}

function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw patchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function getAt(doc: Json, pointer: string): Json {
  let node: Json = doc;
  for (const token of tokens(pointer)) {
    if (Array.isArray(node) && /^\d+$/.test(token) && Number(token) < node.length)
      node = node[Number(token)]!;
    else if (isPlainObject(node) && token in node) node = node[token]!;
    else throw patchError(`doc is missing path: "${pointer}": missing value`);
  }
  return node;
}

function setAt(doc: Json, pointer: string, value: Json, mode: "add" | "replace"): Json {
  const path = tokens(pointer);
  if (path.length === 0) return value;
  const last = path.pop()!;
  const parent = getAt(doc, path.length ? `/${path.join("/")}` : "");
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index > parent.length) throw patchError(`index out of range: ${pointer}`);
    if (mode === "add") parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (isPlainObject(parent)) {
    parent[last] = value;
  } else {
    throw patchError(`doc is missing path: "${pointer}"`);
  }
  return doc;
}

function removeAt(doc: Json, pointer: string): Json {
  const path = tokens(pointer);
  const last = path.pop()!;
  const parent = getAt(doc, path.length ? `/${path.join("/")}` : "");
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isPlainObject(parent)) delete parent[last];
  return doc;
}

function isPlainObject(value: unknown): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function patchError(message: string): StatusError {
  return new StatusError(422, "Invalid", message);
}

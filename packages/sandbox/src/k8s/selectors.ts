// Label selectors in the string form clients send (`a=b,c!=d,e in (x,y),!f,g`), evaluated the way
// apimachinery's labels.Parse does for the subset that matters here.
import type { KubeObject } from "./objects.ts";
import { badRequest } from "./status.ts";

type Requirement = (labels: Record<string, string>) => boolean;

export function parseLabelSelector(
  selector: string | null | undefined,
): (labels?: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const requirements = splitTopLevel(selector).map(parseRequirement);
  return (labels = {}) => requirements.every((matches) => matches(labels));
}

function parseRequirement(raw: string): Requirement {
  const text = raw.trim();
  const set = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (set) {
    const [, key, op, list] = set as unknown as [string, string, string, string];
    const values = list.split(",").map((v) => v.trim());
    return op === "in"
      ? (labels) => key in labels && values.includes(labels[key]!)
      : (labels) => !(key in labels) || !values.includes(labels[key]!);
  }
  const inequality = /^([^\s!=]+)\s*!=\s*(\S*)$/.exec(text);
  if (inequality) {
    const [, key, value] = inequality as unknown as [string, string, string];
    return (labels) => labels[key] !== value;
  }
  const equality = /^([^\s!=]+)\s*==?\s*(\S*)$/.exec(text);
  if (equality) {
    const [, key, value] = equality as unknown as [string, string, string];
    return (labels) => labels[key] === value;
  }
  const notExists = /^!([^\s!=]+)$/.exec(text);
  if (notExists) return (labels) => !(notExists[1]! in labels);
  if (/^[^\s!=(),]+$/.test(text)) return (labels) => text in labels;
  throw badRequest(`unable to parse requirement: invalid label selector "${raw}"`);
}

/** Splits on commas that are not inside `in (...)` lists. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth += 1;
    if (ch === ")") depth -= 1;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (current.trim()) parts.push(current);
  return parts;
}

/** A metav1.LabelSelector object (`matchLabels`, `matchExpressions`) as Velero evaluates it. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}

export function matchesSelectorObject(
  selector: LabelSelectorObject,
  labels: Record<string, string> = {},
): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const has = expression.key in labels;
    const value = labels[expression.key];
    const values = expression.values ?? [];
    if (expression.operator === "In" && !(has && values.includes(value!))) return false;
    if (expression.operator === "NotIn" && has && values.includes(value!)) return false;
    if (expression.operator === "Exists" && !has) return false;
    if (expression.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** Field selectors: only `metadata.name` and `metadata.namespace`, which every resource supports. */
export function parseFieldSelector(selector: string | null): (o: KubeObject) => boolean {
  if (!selector) return () => true;
  const requirements = selector.split(",").map((part) => {
    const match = /^(metadata\.name|metadata\.namespace)(==|=|!=)(.*)$/.exec(part.trim());
    if (!match)
      throw badRequest(`"${part}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
    const [, field, op, value] = match as unknown as [string, string, string, string];
    return (o: KubeObject) => {
      const actual = field === "metadata.name" ? o.metadata.name : o.metadata.namespace;
      return op === "!=" ? actual !== value : actual === value;
    };
  });
  return (o) => requirements.every((r) => r(o));
}

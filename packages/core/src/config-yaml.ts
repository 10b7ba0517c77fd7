// The config file's text (YAML 1.2, or JSON, which is YAML) to the plain document parseConfig takes.
// Only JSON's types are taken: an explicit tag other than the core schema's (`!!set`, `!!omap`,
// `!!binary`, `!!timestamp`, or a custom `!tag`) would otherwise turn into a Set, a Map, a Buffer or a
// Date, or be dropped with a warning, and a Map where a mapping is expected reads as an empty one.
import { isAlias, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { formatPath } from "./config.ts";
import { InputError } from "./errors.ts";
import { shortInput } from "./text.ts";

const CORE_TAGS = new Set(
  ["map", "seq", "str", "int", "float", "bool", "null"].map((name) => `tag:yaml.org,2002:${name}`),
);

const PLAIN_FIX = "write plain values: strings, numbers, booleans, lists and mappings, without tags";

function refuse(path: ReadonlyArray<string | number>, problem: string): never {
  const field = formatPath(path);
  throw new InputError("invalid-config", `${field === "" ? "config" : field}: ${problem}`, {
    field,
    fix: PLAIN_FIX,
  });
}

/** Refuses any explicit non-core tag and any key that is not a plain scalar, naming where it is. */
function checkNode(node: unknown, path: ReadonlyArray<string | number>): void {
  // An alias repeats a node that is checked where its anchor is.
  if (node === null || node === undefined || isAlias(node)) return;
  const tag = (node as { tag?: string }).tag;
  if (tag !== undefined && !CORE_TAGS.has(tag)) {
    refuse(path, `the YAML tag ${shortInput(tag.replace("tag:yaml.org,2002:", "!!"))} is not allowed`);
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || (key.tag !== undefined && !CORE_TAGS.has(key.tag))) {
        refuse(path, "a key must be a plain string");
      }
      checkNode(pair.value, [...path, String(key.value)]);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      checkNode(item, [...path, index]);
    });
  }
}

/**
 * Parses config text to plain data. Throws InputError `invalid-yaml` (no field: the caller names the
 * file) when it is not YAML at all, and `invalid-config` naming the field for a tag or a complex key.
 */
export function parseConfigYaml(text: string): unknown {
  const syntax = (message: string) =>
    new InputError(
      "invalid-yaml",
      `not valid YAML or JSON: ${shortInput(message.split("\n")[0] ?? "", 200)}`,
      {
        fix: "fix the syntax (YAML or JSON)",
      },
    );
  // Without resolveKnownTags, YAML 1.1 tags stay unresolved: checkNode then refuses them by name.
  const document = parseDocument(text, { resolveKnownTags: false });
  const [error] = document.errors;
  if (error) throw syntax(error.message);
  checkNode(document.contents, []);
  try {
    return document.toJS();
  } catch (failure) {
    // e.g. too many aliases (a "billion laughs" document).
    throw syntax((failure as Error).message);
  }
}

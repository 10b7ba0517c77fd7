// "Did you mean …?" for a misspelled config key: the keys the object at that path accepts, read from
// the zod schema itself (so the answer cannot drift from what is accepted), and the closest of them.
import type { z } from "zod";

/** Edits (insert, delete, substitute) that turn a into b; case counts as an edit. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(substitute, (previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known key closest to `typo`, when at most `maxEdits` away (ties: the first known key). */
export function closestKey(typo: string, known: readonly string[], maxEdits = 2): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(typo, key);
    if (distance <= maxEdits && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

type Def = {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  options?: z.core.$ZodType[];
  discriminator?: string;
  values?: unknown[];
  shape?: Record<string, z.core.$ZodType>;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
};

const defOf = (schema: z.core.$ZodType) => schema._zod.def as unknown as Def;

/**
 * The schemas `value` is checked against, looking through optional, default, pipe and union; of a
 * discriminated union, only the variant its discriminator names (another variant's keys are no answer).
 */
function unwrap(schema: z.core.$ZodType, value: unknown): z.core.$ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return unwrap(def.innerType, value);
  if (def.type === "pipe" && def.in) return unwrap(def.in, value);
  if (def.type !== "union" || !def.options) return [schema];
  const tag = def.discriminator && (value as Record<string, unknown> | undefined)?.[def.discriminator];
  const named = def.options.filter((o) => {
    const literal = def.discriminator ? defOf(o).shape?.[def.discriminator] : undefined;
    return literal && defOf(literal).values?.includes(tag);
  });
  return (named.length > 0 ? named : def.options).flatMap((o) => unwrap(o, value));
}

/** The keys accepted by the object at `path` of `input` (array indexes and record keys included). */
export function knownKeysAt(schema: z.core.$ZodType, input: unknown, path: readonly PropertyKey[]): string[] {
  let value = input;
  let current = unwrap(schema, value);
  for (const part of path) {
    value = (value as Record<PropertyKey, unknown> | undefined)?.[part];
    current = current.flatMap((s) => {
      const def = defOf(s);
      const child =
        def.type === "object"
          ? def.shape?.[String(part)]
          : def.type === "array"
            ? def.element
            : def.type === "record"
              ? def.valueType
              : undefined;
      return child ? unwrap(child, value) : [];
    });
  }
  return [...new Set(current.flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
}

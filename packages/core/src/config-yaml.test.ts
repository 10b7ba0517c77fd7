import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.ts";
import { parseConfigYaml } from "./config-yaml.ts";
import { InputError } from "./errors.ts";

function refusal(text: string): InputError {
  try {
    parseConfigYaml(text);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

describe("parseConfigYaml", () => {
  it("reads YAML and JSON to plain data, core tags included", () => {
    expect(parseConfigYaml("cluster:\n  name: !!str prod\nexport: {keepLast: !!int '5'}\n")).toEqual({
      cluster: { name: "prod" },
      export: { keepLast: 5 },
    });
    expect(parseConfigYaml('{"schedules": [{"name": "n", "cron": "0 2 * * *"}]}')).toEqual({
      schedules: [{ name: "n", cron: "0 2 * * *" }],
    });
    expect(parseConfigYaml("")).toBeNull();
  });

  it.each([
    ["schedules: !!set {a, b}", "schedules", "!!set"],
    ["cluster: !!omap [{name: prod}]", "cluster", "!!omap"],
    ["cluster:\n  name: !!binary cHJvZA==", "cluster.name", "!!binary"],
    ["schedules:\n  - name: n\n    cron: !!timestamp 2026-01-01", "schedules[0].cron", "!!timestamp"],
    ["cluster: !local {name: prod}", "cluster", "!local"],
    ["!kots\ncluster: {}", "", "!kots"],
    ["export:\n  configApps: [a, !!pairs [{b: 1}]]", "export.configApps[1]", "!!pairs"],
    [
      "alerts:\n  webhook:\n    headers: {!!binary eA==: 1}",
      "alerts.webhook.headers",
      "a key must be a plain string",
    ],
    ["cluster:\n  ? [a, b]\n  : x", "cluster", "a key must be a plain string"],
  ])("refuses %j naming %j", (text, field, problem) => {
    const error = refusal(text);
    expect(error).toMatchObject({ code: "invalid-config", exitCode: 2, field });
    expect(error.message).toContain(problem);
    expect(error.message.startsWith(field === "" ? "config: " : `${field}: `)).toBe(true);
    expect(error.fix).toContain("plain values");
  });

  it("refuses a Map that would otherwise read as an empty, valid mapping", () => {
    // Without the tag check, `!!omap` became a Map, which the schema took as {} with defaults.
    const text = "cluster: !!omap [{name: prod}]";
    expect(() => parseConfig(parseConfigYaml(text))).toThrow(/cluster: the YAML tag !!omap is not allowed/);
  });

  it("reports bad syntax, several documents and alias bombs as invalid-yaml", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      ...Array.from({ length: 8 }, (_, i) => {
        const prev = i === 0 ? "a" : `l${i - 1}`;
        return `l${i}: &l${i} [${Array(10).fill(`*${prev}`).join(", ")}]`;
      }),
    ].join("\n");
    for (const text of ["cluster: [", "a: 1\n---\nb: 2\n", "a: 1\na: 2\n", bomb]) {
      const error = refusal(text);
      expect(error.code, text.slice(0, 20)).toBe("invalid-yaml");
      expect(error.field).toBeUndefined();
      expect(error.message).toMatch(/^not valid YAML or JSON: /);
    }
  });
});

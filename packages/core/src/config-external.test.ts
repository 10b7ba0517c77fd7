// The `external:` section of the config: recovery points watched next to the schedules.
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.ts";
import { InputError } from "./errors.ts";

function errorOf(input: unknown): InputError {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

const rds = (extra: Record<string, unknown> = {}) => ({
  kind: "rds",
  name: "orders-db",
  app: "orders",
  period: "1d",
  instance: "orders-prod",
  ...extra,
});

describe("config external", () => {
  it("defaults to none", () => {
    expect(parseConfig({}).external).toEqual([]);
  });

  it("parses each kind with its defaults, durations in ms", () => {
    const config = parseConfig({
      external: [
        rds(),
        {
          kind: "aws-backup",
          name: "files",
          app: "orders",
          period: "26h",
          resourceArn: "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1",
          vault: "Default",
        },
        { kind: "s3", name: "uploads", app: "orders", period: "1d", bucket: "acme-uploads" },
        {
          kind: "command",
          name: "redis-rdb",
          app: "orders",
          period: "6h",
          grace: "30m",
          command: ["/usr/local/bin/newest-rdb", "--json"],
        },
      ],
    });
    expect(config.external[0]).toEqual({
      kind: "rds",
      name: "orders-db",
      app: "orders",
      period: 86_400_000,
      grace: 3_600_000,
      paused: false,
      instance: "orders-prod",
      requireEncryption: true,
    });
    expect(config.external[1]).toMatchObject({
      kind: "aws-backup",
      period: 26 * 3_600_000,
      vault: "Default",
    });
    expect(config.external[2]).toMatchObject({ kind: "s3", bucket: "acme-uploads" });
    expect(config.external[3]).toMatchObject({ kind: "command", grace: 1_800_000, timeout: 30_000 });
  });

  it.each([
    [{ external: [rds({ name: "Orders" })] }, "external[0].name", "a-z, 0-9"],
    [{ external: [rds({ name: "x".repeat(53) })] }, "external[0].name", "at most 52"],
    [{ external: [rds({ app: undefined })] }, "external[0].app", "required"],
    [{ external: [rds({ period: undefined })] }, "external[0].period", "required"],
    [{ external: [rds({ period: "0s" })] }, "external[0].period", "longer than 0s"],
    [{ external: [rds({ period: "400d" })] }, "external[0].period", "366d"],
    [{ external: [rds({ kind: "mysql" })] }, "external[0].kind", ""],
    [{ external: [rds({ bucket: "x" })] }, "external[0].bucket", "unknown key"],
    [{ external: [rds({ cluster: "aurora-1" })] }, "external[0].instance", "exactly one"],
    [{ external: [rds({ instance: undefined })] }, "external[0].instance", "exactly one"],
    [{ external: [rds({ instance: "a b" })] }, "external[0].instance", "identifier"],
    [
      { external: [{ kind: "aws-backup", name: "a", app: "b", period: "1d", resourceArn: "fs-1" }] },
      "external[0].resourceArn",
      "ARN",
    ],
    [
      { external: [{ kind: "s3", name: "a", app: "b", period: "1d", bucket: "Not_A_Bucket" }] },
      "external[0].bucket",
      "bucket name",
    ],
    [
      { external: [{ kind: "command", name: "a", app: "b", period: "1d", command: [] }] },
      "external[0].command",
      "",
    ],
    [
      { external: [{ kind: "command", name: "a", app: "b", period: "1d", command: ["x"], timeout: "1h" }] },
      "external[0].timeout",
      "",
    ],
    [{ external: [rds(), rds({ instance: "other" })] }, "external[1].name", "already used by external[0]"],
  ])("refuses %j at %s", (input, field, text) => {
    const error = errorOf(input);
    expect(error.field).toBe(field);
    expect(`${error.message}; ${error.fix}`).toContain(text);
  });
});

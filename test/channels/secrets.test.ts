import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { EnvironmentError, InputError } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  clearSecretCache,
  parseSecretRef,
  resolveSecret,
} from "../../packages/adapters/src/secrets/resolve.ts";
import { REDACTED, redact, Secret } from "../../packages/adapters/src/secrets/secret.ts";
import { describeWithMoto, motoClientConfig } from "../support/peers.ts";

// SST reads links from SST_RESOURCE_<Name> on its first access in the process; set it up front.
process.env.SST_RESOURCE_KbAlertsToken = JSON.stringify({
  type: "sst.sst.Secret",
  value: "sst-token-value-123",
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("Secret", () => {
  const secret = new Secret("hunter2-very-secret", "env:PD_KEY");

  it("prints [redacted] however it is turned into text", () => {
    expect(String(secret)).toBe(REDACTED);
    expect(`${secret}`).toBe(REDACTED);
    expect(JSON.stringify({ key: secret })).toBe(`{"key":"${REDACTED}"}`);
    expect(inspect(secret)).not.toContain("hunter2");
    expect(inspect({ nested: { secret } }, { depth: 5, showHidden: true })).not.toContain("hunter2");
    expect(secret.reveal()).toBe("hunter2-very-secret");
    expect(inspect(secret)).toContain("env:PD_KEY");
  });
});

describe("redact", () => {
  it("replaces every known value, its URL-encoded and JSON-escaped forms", () => {
    const url = "https://hooks.example.com/services/T0/B0/abc?x=1&y=2";
    const text = `a ${url} b ${encodeURIComponent(url)} c ${JSON.stringify(url).replaceAll("/", "\\/")} d ${url}`;
    const out = redact(text, [new Secret(url), "tok-123456"]);
    expect(out).toBe(`a ${REDACTED} b ${REDACTED} c "${REDACTED}" d ${REDACTED}`);
  });

  it("redacts each secret-bearing part of a URL on its own, and leaves the bare host readable", () => {
    const url = "https://hooks.example.com/services/T0AB/B0CD/XyZ9kQ2wLm7pR4tV?token=abc&sig=Zq81vX0pLk";
    const secret = new Secret(url);
    for (const part of [
      "/services/T0AB/B0CD/XyZ9kQ2wLm7pR4tV",
      "XyZ9kQ2wLm7pR4tV",
      "token=abc",
      "Zq81vX0pLk",
    ]) {
      expect(redact(`peer said: ${part}.`, [secret]), part).toBe(`peer said: ${REDACTED}.`);
    }
    expect(redact("posting to hooks.example.com failed", [secret])).toBe(
      "posting to hooks.example.com failed",
    );
    // user info too
    expect(redact("as bob:pa55word-xyz", ["https://bob:pa55word-xyz@h.example/x"])).not.toContain("pa55word");
  });

  it("redacts every encoding of a secret and of its parts, in any letter case", () => {
    const key = "Ek7q0Rz3Wm9Xv2Lp5Tn8Yb4Hc6Jd1Fg0";
    const encodings = [
      key.toUpperCase(),
      key.toLowerCase(),
      encodeURIComponent(`a/${key}`),
      Buffer.from(key).toString("base64"),
      Buffer.from(key).toString("base64url"),
      Buffer.from(key).toString("hex"),
      Buffer.from(key).toString("hex").toUpperCase(),
      // inside a longer encoded text, at each byte alignment
      Buffer.from(`{"k":"${key}"}`).toString("base64"),
      Buffer.from(`{"ke":"${key}"}`).toString("base64"),
      Buffer.from(`{"key":"${key}"}`).toString("base64url"),
    ];
    // The key's own characters in each encoding (at a byte offset, less the groups shared with neighbours).
    const own = [...encodings.slice(0, 7)];
    for (const pad of [1, 2]) {
      const bytes = Buffer.concat([Buffer.alloc(pad), Buffer.from(key)]);
      own.push(bytes.toString("base64").slice(4, -4), bytes.toString("base64url").slice(4, -4));
    }
    for (const encoded of encodings) {
      const out = redact(`<${encoded}>`, [new Secret(key)]);
      expect(out, encoded).toContain(REDACTED);
      // No run of 8 characters of the key, in any of its encodings, survives.
      for (const form of own) {
        for (let i = 0; i + 8 <= form.length; i++) expect(out).not.toContain(form.slice(i, i + 8));
      }
    }
  });

  it("redacts a partial echo of 8 characters or more, so cutting before redacting cannot leak a prefix", () => {
    const key = "Ek7q0Rz3Wm9Xv2Lp5Tn8Yb4Hc6Jd1Fg0";
    expect(redact(`key ${key.slice(0, 11)}…`, [key])).toBe(`key ${REDACTED}…`);
    expect(redact(`key ${key.slice(0, 7)}…`, [key])).toBe(`key ${key.slice(0, 7)}…`);
  });

  it("replaces the longer of two overlapping values whole, and ignores very short values", () => {
    expect(redact("key abcdef-ghij", ["abcdef", "abcdef-ghij", "k"])).toBe(`key ${REDACTED}`);
    expect(redact("nothing here", [undefined, ""])).toBe("nothing here");
  });
});

describe("parseSecretRef", () => {
  it("parses the four kinds", () => {
    expect(parseSecretRef("env:PD_KEY")).toEqual({ kind: "env", name: "PD_KEY" });
    expect(parseSecretRef("file:/run/secrets/pd")).toEqual({ kind: "file", name: "/run/secrets/pd" });
    expect(parseSecretRef("file:///run/secrets/pd")).toEqual({ kind: "file", name: "/run/secrets/pd" });
    expect(parseSecretRef("sst:PagerDutyKey")).toEqual({ kind: "sst", name: "PagerDutyKey" });
    expect(
      parseSecretRef("arn:aws:secretsmanager:eu-west-1:123456789012:secret:kb/pd-AbCdEf#routingKey"),
    ).toEqual({
      kind: "secretsmanager",
      name: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kb/pd-AbCdEf",
      region: "eu-west-1",
      jsonKey: "routingKey",
    });
  });

  it("rejects a plain value without echoing it, naming the field", () => {
    const error = (() => {
      try {
        parseSecretRef("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "alerts.slack.webhookUrl");
      } catch (e) {
        return e as InputError;
      }
      throw new Error("expected a throw");
    })();
    expect(error).toBeInstanceOf(InputError);
    expect(error.code).toBe("secret-ref-invalid");
    expect(error.field).toBe("alerts.slack.webhookUrl");
    expect(error.message).toContain("alerts.slack.webhookUrl");
    expect(error.message).not.toContain("XXXXSECRET");
    expect(error.fix).toBeTruthy();
  });

  it("rejects a relative file path and a malformed ARN", () => {
    expect(() => parseSecretRef("file:secrets/pd")).toThrow(/absolute/);
    expect(() => parseSecretRef("arn:aws:secretsmanager:us-east-1:123:secret:x")).toThrow(InputError);
    expect(() => parseSecretRef("arn:aws:secretsmanager:us-east-1:123456789012:secret:x#")).toThrow(
      InputError,
    );
  });
});

describe("one secret-reference parser: config validation accepts exactly what resolution parses", () => {
  const fields: ReadonlyArray<(ref: string) => Record<string, unknown>> = [
    (ref) => ({ alerts: { pagerDuty: { routingKey: ref } } }),
    (ref) => ({ alerts: { slack: { webhookUrl: ref } } }),
    (ref) => ({ alerts: { webhook: { url: ref } } }),
    (ref) => ({ cluster: { credentials: ref } }),
    (ref) => ({ export: { credentials: { accessKeyId: ref, secretAccessKey: "env:KB_S3_SECRET" } } }),
  ];
  const validates = (ref: string) =>
    fields.every((build) => {
      try {
        parseConfig(build(ref));
        return true;
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return false;
      }
    });
  const resolves = (ref: string) => {
    try {
      parseSecretRef(ref, "alerts.pagerDuty.routingKey");
      return true;
    } catch (error) {
      expect(error).toMatchObject({ code: "secret-ref-invalid", field: "alerts.pagerDuty.routingKey" });
      return false;
    }
  };
  const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kb/pd-AbCdEf";

  // Hand-picked: each kind's edges, and every string the two parsers used to disagree on.
  const handPicked = [
    "env:PD_KEY",
    "env:_x1",
    "env:1BAD",
    "env:",
    "env:A-B",
    "env:A B",
    "file:/run/secrets/pd",
    "file:///run/secrets/pd",
    "file://host/run/secrets/pd",
    "file:relative/path",
    "file:/",
    "file:",
    "file:/run/se\ncrets",
    "sst:PagerDutyKey",
    "sst:pd_key",
    "sst:",
    ARN,
    `${ARN}#routingKey`,
    `${ARN}#`,
    `${ARN}#a#b`,
    `${ARN}#line\nbreak`,
    `${ARN} `,
    "arn:aws:secretsmanager:us-east-1:123:secret:x",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:has space",
    "arn:aws:secretsmanager:US-EAST-1:123456789012:secret:x",
    "arn:aws:secretsmanager:eusc-de-east-1:123456789012:secret:x",
    "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x",
    "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x#k",
    "arn:aws:ssm:us-east-1:123456789012:parameter/x",
    "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
    "R3liab1l1tyR0ut1ngKey0000000abcd",
    "",
    `env:${"A".repeat(2100)}`,
  ];

  it("agrees on every hand-picked reference", () => {
    const disagreements = handPicked.filter((ref) => validates(ref) !== resolves(ref));
    expect(disagreements).toEqual([]);
    expect(handPicked.filter(resolves).length).toBeGreaterThan(8);
  });

  it("agrees on generated references (prefix × body), accepting some and refusing others", () => {
    const prefixes = [
      "env:",
      "file:",
      "file://",
      "file:///",
      "sst:",
      "arn:aws:secretsmanager:",
      "https://",
      "",
    ];
    const bodies = [
      "PD_KEY",
      "Pd1",
      "9x",
      "a-b",
      "/abs/path",
      "rel",
      "us-east-1:123456789012:secret:kb/pd-Ab",
      "us-east-1:123456789012:secret:kb/pd-Ab#key",
      "us-east-1:12345:secret:x",
      "eu-west-3:123456789012:secret:a+b=c.d@e_f",
      "#",
      " ",
      "\t",
      "é",
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = "aZ09_-/:#. é\n";
    const generated: string[] = [];
    for (const prefix of prefixes) {
      for (const body of bodies) generated.push(prefix + body);
      for (let i = 0; i < 40; i++) {
        let tail = "";
        const length = Math.floor(random() * 12);
        for (let j = 0; j < length; j++) tail += alphabet[Math.floor(random() * alphabet.length)];
        generated.push(prefix + tail);
      }
    }
    const disagreements = generated.filter((ref) => validates(ref) !== resolves(ref));
    expect(disagreements).toEqual([]);
    const accepted = generated.filter(resolves).length;
    expect(accepted).toBeGreaterThan(20);
    expect(accepted).toBeLessThan(generated.length - 100);
  });
});

describe("resolveSecret: env, file, sst", () => {
  it("reads an environment variable", async () => {
    const secret = await resolveSecret("env:KB_TEST_TOKEN", { env: { KB_TEST_TOKEN: "tok-abcdef" } });
    expect(secret.reveal()).toBe("tok-abcdef");
    expect(secret.source).toBe("env:KB_TEST_TOKEN");
  });

  it("names the missing variable and the fix", async () => {
    const error = (await rejection(
      resolveSecret("env:KB_NOT_SET", { env: {}, field: "alerts.pagerDuty.routingKey" }),
    )) as EnvironmentError;
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.code).toBe("secret-missing");
    expect(error.message).toContain("KB_NOT_SET");
    expect(error.message).toContain("alerts.pagerDuty.routingKey");
    expect(error.fix).toContain("export KB_NOT_SET=");
  });

  it("reads a file and drops one trailing newline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-secret-"));
    const path = join(dir, "token");
    writeFileSync(path, "file-token-value\n");
    expect((await resolveSecret(`file:${path}`)).reveal()).toBe("file-token-value");
  });

  it("names the missing file", async () => {
    const error = (await rejection(resolveSecret("file:/nonexistent/kb/token"))) as EnvironmentError;
    expect(error.code).toBe("secret-missing");
    expect(error.message).toContain("/nonexistent/kb/token");
    expect(error.message).toContain("ENOENT");
  });

  it("reads Resource.Name.value of a linked sst.Secret", async () => {
    expect((await resolveSecret("sst:KbAlertsToken")).reveal()).toBe("sst-token-value-123");
  });

  it("says an unlinked sst secret is not linked, and how to link it", async () => {
    const error = (await rejection(resolveSecret("sst:KbNotLinked"))) as EnvironmentError;
    expect(error.code).toBe("secret-missing");
    expect(error.message).toContain("KbNotLinked");
    expect(error.fix).toContain("sst secret set KbNotLinked");
  });
});

describeWithMoto("resolveSecret: Secrets Manager (moto)", () => {
  let client: SecretsManagerClient;
  const secretsManager = () => client;
  let n = 0;
  const uniqueName = () => `kb-test/${process.pid}-${Date.now().toString(36)}-${++n}`;

  beforeAll(() => {
    client = new SecretsManagerClient(motoClientConfig());
  });
  afterEach(() => clearSecretCache());

  async function create(value: string): Promise<string> {
    const out = await client.send(new CreateSecretCommand({ Name: uniqueName(), SecretString: value }));
    return out.ARN!;
  }

  it("resolves a plain secret by ARN", async () => {
    const arn = await create("sm-plain-value");
    expect((await resolveSecret(arn, { secretsManager })).reveal()).toBe("sm-plain-value");
  });

  it("resolves a key of a JSON secret with #key", async () => {
    const arn = await create(JSON.stringify({ routingKey: "a".repeat(32), other: "x" }));
    expect((await resolveSecret(`${arn}#routingKey`, { secretsManager })).reveal()).toBe("a".repeat(32));
  });

  it("names the ARN and the key when the JSON key is missing, without printing the secret", async () => {
    const arn = await create(JSON.stringify({ other: "json-secret-content" }));
    const error = (await rejection(
      resolveSecret(`${arn}#routingKey`, { secretsManager }),
    )) as EnvironmentError;
    expect(error.code).toBe("secret-json-key-missing");
    expect(error.message).toContain(arn);
    expect(error.message).toContain("routingKey");
    expect(error.message).not.toContain("json-secret-content");
  });

  it("names a secret that does not exist", async () => {
    const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kb-test/absent-AbCdEf";
    const error = (await rejection(resolveSecret(arn, { secretsManager }))) as EnvironmentError;
    expect(error.code).toBe("secret-missing");
    expect(error.message).toContain(arn);
  });

  it("reuses a value for maxAgeMs, then reads the new one", async () => {
    const arn = await create("version-one");
    let clock = 1_000_000;
    const opts = { secretsManager, maxAgeMs: 60_000, now: () => clock };
    expect((await resolveSecret(arn, opts)).reveal()).toBe("version-one");
    await client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: "version-two" }));
    clock += 59_000;
    expect((await resolveSecret(arn, opts)).reveal()).toBe("version-one");
    clock += 2_000;
    expect((await resolveSecret(arn, opts)).reveal()).toBe("version-two");
  });
});

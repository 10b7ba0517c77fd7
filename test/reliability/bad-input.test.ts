// Bad input, property-based: generated mutations of a valid config (and of valid on-demand events,
// and of the backup command's flags) are each refused with an InputError (exit 2) naming the offending
// field — and, through the CLI, before anything is touched: no Kubernetes request at all (the API
// server's request log), no kotsadm call, no object written to the destination.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import { parseOnDemandEvent } from "@kots-backup/core/on-demand-event";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type FakeDeployment, fakeDeployment, lambdaContext } from "../functions/support.ts";
import { recordCaptured } from "../support/capture.ts";
import { describeWithMoto } from "../support/peers.ts";
import {
  cli,
  filesUnder,
  type LoggedSandbox,
  loggedSandbox,
  tempDir,
  writeConfig,
} from "./support/harness.ts";
import { defineSecretScan } from "./support/secret-scan.ts";
import { exportSecretEnv } from "./support/secrets.ts";

/** Generated invalid inputs this file checks; asserted (docs/testing.md describes them). */
const MIN_INVALID_CONFIGS = 200;
const MIN_INVALID_EVENTS = 200;
/** Generated invalid events invoked through the real onDemand handler (one warm container). */
const HANDLER_EVENTS = 400;
const CLI_SAMPLE = 24;

/** Control characters, C1 and bidi overrides: never in a message. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

// ── A valid config touching every section, and ways to break it ──────────────────────────────────

function validConfig(kubeconfig = "/tmp/kubeconfig", destination = "file:///tmp/kb-dest"): Obj {
  return {
    cluster: { name: "prod", kubeconfig, kotsadmNamespace: "default", insecureSkipTlsVerify: false },
    schedules: [
      {
        name: "nightly",
        cron: "30 2 * * *",
        timezone: "Europe/Paris",
        type: "full",
        grace: "1h",
        maxDuration: "4h",
        export: true,
        exportGrace: "2h",
        paused: false,
      },
      { name: "app-hourly", cron: "0 * * * *", type: "partial", app: "my-app", grace: "15m" },
    ],
    export: {
      destination,
      keepLast: 3,
      scope: "auto",
      lifecycle: { tierAfter: "30d", retention: "90d" },
    },
    alerts: {
      pagerDuty: { routingKey: "env:KB_REL_PD_ROUTING_KEY" },
      slack: { webhookUrl: "sst:SlackWebhookUrl" },
      webhook: { url: "file:/run/secrets/webhook-url", headers: { "X-Team": "platform" } },
      sns: { topicArn: "arn:aws:sns:eu-west-1:123456789012:oncall" },
    },
    daemon: { verifyInterval: "1m", metricsPort: 9100 },
  };
}

interface Invalid {
  /** What was broken, for failure messages. */
  kind: string;
  config: Obj;
  /** The field the refusal must name, as `formatPath` writes it. */
  field: string;
  /** A plain secret that must not be echoed back. */
  plain?: string;
}

/** Every object node of the valid config whose keys are fixed by the schema, with its known keys. */
const OBJECT_NODES: ReadonlyArray<readonly [path: (string | number)[], keys: string[]]> = [
  [[], ["$schema", "cluster", "schedules", "export", "alerts", "daemon", "aws"]],
  [
    ["cluster"],
    [
      "name",
      "kubeconfig",
      "context",
      "kotsadmNamespace",
      "veleroNamespace",
      "insecureSkipTlsVerify",
      "caFile",
      "credentials",
      "eks",
    ],
  ],
  [
    ["schedules", 0],
    ["name", "cron", "timezone", "type", "app", "grace", "maxDuration", "export", "exportGrace", "paused"],
  ],
  [
    ["schedules", 1],
    ["name", "cron", "timezone", "type", "app", "grace", "maxDuration", "export", "exportGrace", "paused"],
  ],
  [
    ["export"],
    [
      "destination",
      "endpoint",
      "region",
      "forcePathStyle",
      "credentials",
      "bsl",
      "scope",
      "keepLast",
      "includePartiallyFailed",
      "configApps",
      "lifecycle",
      "objectLock",
    ],
  ],
  [
    ["export", "lifecycle"],
    ["tierAfter", "retention", "noncurrentVersions"],
  ],
  [["alerts"], ["eventBridge", "sns", "pagerDuty", "slack", "webhook", "email"]],
  [["alerts", "pagerDuty"], ["routingKey"]],
  [["alerts", "slack"], ["webhookUrl"]],
  [
    ["alerts", "webhook"],
    ["url", "headers"],
  ],
  [["alerts", "sns"], ["topicArn"]],
  [["daemon"], ["verifyInterval", "heartbeatUrl", "metricsPort", "metricsHost"]],
];

/** Leaves and the JSON types they accept ("string" leaves include durations, crons, references). */
const LEAVES: ReadonlyArray<
  readonly [path: (string | number)[], type: "string" | "number" | "boolean" | "array" | "object"]
> = [
  [["cluster"], "object"],
  [["cluster", "name"], "string"],
  [["cluster", "kubeconfig"], "string"],
  [["cluster", "insecureSkipTlsVerify"], "boolean"],
  [["schedules"], "array"],
  [["schedules", 0, "name"], "string"],
  [["schedules", 0, "cron"], "string"],
  [["schedules", 0, "timezone"], "string"],
  [["schedules", 0, "grace"], "string"],
  [["schedules", 0, "export"], "boolean"],
  [["schedules", 0, "paused"], "boolean"],
  [["schedules", 1, "app"], "string"],
  [["export"], "object"],
  [["export", "destination"], "string"],
  [["export", "keepLast"], "number"],
  [["export", "lifecycle", "retention"], "string"],
  [["alerts"], "object"],
  [["alerts", "pagerDuty", "routingKey"], "string"],
  [["alerts", "webhook", "headers"], "object"],
  [["daemon", "verifyInterval"], "string"],
  [["daemon", "metricsPort"], "number"],
];

const formatPath = (path: ReadonlyArray<string | number>) =>
  path.reduce<string>(
    (out, part) => (typeof part === "number" ? `${out}[${part}]` : out === "" ? part : `${out}.${part}`),
    "",
  );

function setAt(config: Obj, path: ReadonlyArray<string | number>, value: Json | undefined): Obj {
  const copy = structuredClone(config);
  let node: Json = copy;
  for (const part of path.slice(0, -1)) node = (node as Record<string | number, Json>)[part] as Json;
  const last = path.at(-1) as string | number;
  if (value === undefined) delete (node as Record<string | number, Json>)[last];
  else (node as Record<string | number, Json>)[last] = value;
  return copy;
}

const key = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,11}$/);
const plainSecret = fc
  .stringMatching(/^[A-Za-z0-9_./+-]{8,48}$/)
  .filter((s) => !/^(env|file|arn|sst)/.test(s));

const valueOfType = (type: string): fc.Arbitrary<Json> => {
  const all: Record<string, fc.Arbitrary<Json>> = {
    string: fc.string({ maxLength: 12 }),
    number: fc.integer({ min: -5, max: 70_000 }),
    boolean: fc.boolean(),
    array: fc.array(fc.integer(), { maxLength: 3 }),
    object: fc.dictionary(key, fc.integer(), { maxKeys: 2 }),
    null: fc.constant(null),
  };
  return fc.oneof(
    ...Object.entries(all)
      .filter(([t]) => t !== type)
      .map(([, a]) => a),
  );
};

const scheduleIndex = fc.constantFrom(0, 1);

function invalidConfig(base: Obj): fc.Arbitrary<Invalid> {
  const unknownKey = fc
    .tuple(fc.constantFrom(...OBJECT_NODES), key)
    .filter(([[, known], k]) => !known.includes(k))
    .map(([[path], k]) => ({
      kind: "unknown key",
      config: setAt(base, [...path, k], "surprise"),
      field: formatPath([...path, k]),
    }));
  const wrongType = fc.constantFrom(...LEAVES).chain(([path, type]) =>
    valueOfType(type).map((value) => ({
      kind: `wrong type (${type} expected)`,
      config: setAt(base, path, value),
      field: formatPath(path),
    })),
  );
  const badCron = fc
    .tuple(
      scheduleIndex,
      fc.oneof(
        fc.constantFrom(
          "* * * *",
          "0 0 * * * *",
          "61 * * * *",
          "0 24 * * *",
          "0 0 32 * *",
          "0 0 * 13 *",
          "0 0 * * 8",
          "*/0 * * * *",
          "0 0 30 2 *",
          "",
          "every day",
        ),
        fc
          .tuple(
            fc.stringMatching(/^[a-z]{1,6}$/),
            fc.array(fc.constantFrom("*", "1", "jan", "mon"), { minLength: 4, maxLength: 4 }),
          )
          .map(([first, rest]) => [first, ...rest].join(" ")),
      ),
    )
    .map(([i, cron]) => ({
      kind: "bad cron",
      config: setAt(base, ["schedules", i, "cron"], cron),
      field: `schedules[${i}].cron`,
    }));
  const badTimezone = fc
    .tuple(
      scheduleIndex,
      fc.oneof(
        fc.stringMatching(/^[A-Z][a-z]{5,10}$/).map((s) => `Nowhere/${s}`),
        fc.constantFrom("", "UTC+25", "Europe/Pariss", "GMT+99"),
      ),
    )
    .map(([i, tz]) => ({
      kind: "bad timezone",
      config: setAt(base, ["schedules", i, "timezone"], tz),
      field: `schedules[${i}].timezone`,
    }));
  const durationPaths: (string | number)[][] = [
    ["schedules", 0, "grace"],
    ["schedules", 1, "maxDuration"],
    ["schedules", 0, "exportGrace"],
    ["daemon", "verifyInterval"],
    ["export", "lifecycle", "retention"],
  ];
  const badDuration = fc
    .tuple(
      fc.constantFrom(...durationPaths),
      fc.oneof(
        fc
          .tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("w", "y", "ms", "min", "hours", "sec", ""))
          .map(([n, u]) => `${n}${u}`),
        fc.constantFrom("", " ", "-1h", "1.5h", "1m30h", "h", "soon", "PT1H"),
      ),
    )
    .map(([path, text]) => ({
      kind: "bad duration",
      config: setAt(base, path, text),
      field: formatPath(path),
    }));
  // Durations beyond a Date (±8.64e15 ms) or the caps (366d for periods, 36500d for retention).
  const hugeDuration = fc
    .tuple(
      fc.constantFrom(...durationPaths),
      fc.constantFrom("999999999999h", `${"9".repeat(30)}s`, "99999999d", "36501d"),
    )
    .map(([path, text]) => ({
      kind: "duration too long",
      config: setAt(base, path, text),
      field: formatPath(path),
    }));
  const nonCanonicalTimezone = fc
    .tuple(
      scheduleIndex,
      fc.constantFrom("+05:30", "-08:00", "UTC+2", "GMT-3", "europe/paris", "america/new_york", "utc"),
    )
    .map(([i, tz]) => ({
      kind: "offset or miscased timezone",
      config: setAt(base, ["schedules", i, "timezone"], tz),
      field: `schedules[${i}].timezone`,
    }));
  const hostile = fc.constantFrom(
    "prod\u001b[31m",
    "prod\r\nforged",
    "pr\u202eod",
    "prod\u009b2J",
    "a".repeat(1_000_000),
  );
  const hostileName = fc
    .tuple(
      fc.constantFrom<(string | number)[]>(
        ["cluster", "name"],
        ["cluster", "kotsadmNamespace"],
        ["schedules", 0, "name"],
        ["schedules", 1, "app"],
      ),
      hostile,
    )
    .map(([path, name]) => ({
      kind: "control characters or megabytes in a name",
      config: setAt(base, path, name),
      field: formatPath(path),
    }));
  const headerBreak = fc
    .constantFrom("platform\r\nX-Injected: 1", "platform\nx", "\u0000", "a".repeat(1_000_000))
    .map((value) => ({
      kind: "header value with a line break",
      config: setAt(base, ["alerts", "webhook", "headers", "X-Team"], value),
      field: "alerts.webhook.headers.X-Team",
    }));
  const duplicateName = fc
    .tuple(scheduleIndex, fc.constantFrom("15 3 * * *", "0 */6 * * *"))
    .map(([i, cron]) => {
      const schedules = base["schedules"] as Obj[];
      const copy = { ...(schedules[i] as Obj), cron };
      return {
        kind: "duplicate schedule name",
        config: setAt(base, ["schedules"], [...schedules, copy]),
        field: `schedules[${schedules.length}].name`,
      };
    });
  const partialWithoutApp = fc.constantFrom(
    {
      kind: "partial without app",
      config: setAt(base, ["schedules", 1, "app"], undefined),
      field: "schedules[1].app",
    },
    {
      kind: "partial without app",
      config: setAt(base, ["schedules", 0, "type"], "partial"),
      field: "schedules[0].app",
    },
    {
      kind: "full with app",
      config: setAt(base, ["schedules", 0, "app"], "my-app"),
      field: "schedules[0].app",
    },
  );
  const secretPaths: (string | number)[][] = [
    ["alerts", "pagerDuty", "routingKey"],
    ["alerts", "slack", "webhookUrl"],
    ["alerts", "webhook", "url"],
    ["cluster", "credentials"],
    ["daemon", "heartbeatUrl"],
    ["alerts", "webhook", "headers", "Authorization"],
    ["alerts", "webhook", "headers", "X-Api-Key"],
  ];
  const plainSecrets = fc.tuple(fc.constantFrom(...secretPaths), plainSecret).map(([path, plain]) => ({
    kind: "plain secret",
    config: setAt(base, path, plain),
    field: formatPath(path),
    plain,
  }));
  const plainS3Keys = fc.tuple(plainSecret, plainSecret).map(([id, secret]) => ({
    kind: "plain S3 keys",
    config: setAt(base, ["export", "credentials"], { accessKeyId: id, secretAccessKey: secret }),
    field: "export.credentials.accessKeyId",
    plain: id,
  }));
  const badDestination = fc
    .oneof(
      fc.stringMatching(/^[a-z]{1,10}(\/[a-z]{1,10}){0,2}$/).map((p) => `/${p}`),
      fc
        .tuple(fc.constantFrom("ftp", "http", "gs", "azure", "S3"), fc.stringMatching(/^[a-z]{3,10}$/))
        .map(([s, b]) => `${s}://${b}/x`),
      fc.stringMatching(/^[A-Z][A-Za-z]{2,10}$/).map((b) => `s3://${b}/prefix`),
      fc.stringMatching(/^[a-z]{3,10}$/).map((b) => `s3://${b}/a//b`),
      fc.constantFrom("", "   ", "s3://ab/x", "file://relative/path", "s3://-bucket-/x"),
    )
    .map((destination) => ({
      kind: "bad destination",
      config: setAt(base, ["export", "destination"], destination),
      field: "export.destination",
    }));
  const badEndpoint = fc.constantFrom("not a url", "://x", "http//x", "").map((endpoint) => ({
    kind: "bad endpoint",
    config: setAt(base, ["export", "endpoint"], endpoint),
    field: "export.endpoint",
  }));
  const badNumbers = fc.oneof(
    fc.integer({ min: -100, max: 0 }).map((n) => ({
      kind: "keepLast < 1",
      config: setAt(base, ["export", "keepLast"], n),
      field: "export.keepLast",
    })),
    fc.integer({ min: 65_536, max: 1_000_000 }).map((n) => ({
      kind: "port out of range",
      config: setAt(base, ["daemon", "metricsPort"], n),
      field: "daemon.metricsPort",
    })),
    fc.stringMatching(/^[a-z]{3,12}$/).map((t) => ({
      kind: "bad SNS ARN",
      config: setAt(base, ["alerts", "sns", "topicArn"], `arn:aws:sns:${t}`),
      field: "alerts.sns.topicArn",
    })),
    fc.constantFrom("weird", "incremental", "").map((t) => ({
      kind: "bad schedule type",
      config: setAt(base, ["schedules", 0, "type"], t),
      field: "schedules[0].type",
    })),
    fc.stringMatching(/^[A-Z_ ]{1,10}$/).map((n) => ({
      kind: "bad schedule name",
      config: setAt(base, ["schedules", 0, "name"], n),
      field: "schedules[0].name",
    })),
  );
  return fc.oneof(
    unknownKey,
    wrongType,
    badCron,
    badTimezone,
    badDuration,
    duplicateName,
    partialWithoutApp,
    plainSecrets,
    plainS3Keys,
    badDestination,
    badEndpoint,
    badNumbers,
    hugeDuration,
    nonCanonicalTimezone,
    hostileName,
    headerBreak,
  );
}

function refusal(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError, but the input was accepted");
}

describe("invalid configs (fast-check mutations of a valid config)", () => {
  it("the base config is valid, so each mutation is the only thing wrong", () => {
    expect(() => parseConfig(validConfig())).not.toThrow();
  });

  it(`refuses each of ≥ ${MIN_INVALID_CONFIGS} generated invalid configs with exit 2, naming the field`, () => {
    const kinds = new Map<string, number>();
    let tried = 0;
    fc.assert(
      fc.property(invalidConfig(validConfig()), (invalid) => {
        tried += 1;
        kinds.set(invalid.kind, (kinds.get(invalid.kind) ?? 0) + 1);
        const error = refusal(() => parseConfig(invalid.config));
        expect(error.exitCode, invalid.kind).toBe(2);
        expect(error.code).toBe("invalid-config");
        expect(error.field, `${invalid.kind}: ${error.message}`).toBe(invalid.field);
        expect(error.message, invalid.kind).toContain(invalid.field);
        if (invalid.plain) expect(`${error.message} ${error.fix}`).not.toContain(invalid.plain);
        // A bad value is echoed escaped and cut short, if at all.
        expect(`${error.message} ${error.fix}`, invalid.kind).not.toMatch(CONTROL);
        expect(error.message.length, invalid.kind).toBeLessThan(400);
      }),
      { numRuns: 400 },
    );
    expect(tried).toBeGreaterThanOrEqual(MIN_INVALID_CONFIGS);
    // Every family of mistakes was generated.
    expect([...kinds.keys()].length).toBeGreaterThanOrEqual(16);
    process.stdout.write(
      `bad input: ${tried} invalid configs refused, kinds ${JSON.stringify(Object.fromEntries(kinds))}\n`,
    );
  });
});

describe("invalid configs through the CLI: exit 2 and zero side effects", () => {
  let env: LoggedSandbox;
  let dir: string;
  let destination: string;
  beforeAll(async () => {
    exportSecretEnv();
    env = await loggedSandbox();
    dir = tempDir();
    destination = join(dir, "destination");
  });
  afterAll(async () => {
    await env.stop();
  });

  it(`refuses a sample of ${CLI_SAMPLE} with every command before any Kubernetes, kotsadm or store access`, async () => {
    const base = validConfig(env.sandbox.kubeconfigPath, `file://${destination}`);
    // The same config, valid, does reach the cluster: the request logs below can see a call.
    const validFile = writeConfig(dir, base, "valid.yaml");
    const ok = await cli(["--config", validFile, "--json", "ls"]);
    expect(ok.code).toBe(0);
    expect(env.apiRequests().length).toBeGreaterThan(0);
    const kotsadmBefore = env.sandbox.kotsadm.requests.length;
    expect(kotsadmBefore).toBeGreaterThan(0);

    const apiBefore = env.apiRequests().length;
    const revision = env.sandbox.state.resourceVersion;
    const samples = fc.sample(invalidConfig(base), { numRuns: CLI_SAMPLE, seed: 4242 });
    const commands = [
      ["backup"],
      ["backup", "--type", "partial", "--app", "my-app"],
      ["ls"],
      ["verify"],
      ["status"],
      ["export", "--latest"],
    ];
    let runs = 0;
    for (const [i, invalid] of samples.entries()) {
      const file = writeConfig(dir, invalid.config, `invalid-${i}.yaml`);
      const command = commands[i % commands.length] ?? ["ls"];
      const run = await cli(["--config", file, "--json", ...command]);
      runs += 1;
      expect(run.code, `${invalid.kind} via ${command.join(" ")}: ${run.stdout}${run.stderr}`).toBe(2);
      expect(run.json?.error).toMatchObject({ code: "invalid-config", field: invalid.field });
      if (invalid.plain) expect(run.stdout + run.stderr).not.toContain(invalid.plain);
    }
    expect(runs).toBe(CLI_SAMPLE);
    expect(env.apiRequests().length).toBe(apiBefore);
    expect(env.sandbox.state.resourceVersion).toBe(revision);
    expect(env.sandbox.kotsadm.requests.length).toBe(kotsadmBefore);
    expect(filesUnder(destination)).toEqual([]);
  });

  it("refuses YAML tags, huge durations, offset zones, hostile names and header breaks with every command, writing nothing", async () => {
    const kubeconfig = env.sandbox.kubeconfigPath;
    const yaml = (parts: { cluster?: string; schedules?: string; export?: string; alerts?: string }) =>
      [
        parts.cluster ?? `cluster:\n  name: prod\n  kubeconfig: ${kubeconfig}`,
        parts.schedules ?? 'schedules:\n  - name: nightly\n    cron: "30 2 * * *"',
        parts.export ?? `export:\n  destination: file://${destination}`,
        parts.alerts ?? "",
        "",
      ].join("\n");
    const schedule = (line: string) => `schedules:\n  - name: nightly\n    cron: "30 2 * * *"\n    ${line}`;
    const cases: [kind: string, text: string, field: string][] = [
      ["!!set", yaml({ schedules: "schedules: !!set {nightly}" }), "schedules"],
      ["!!omap", yaml({ cluster: `cluster: !!omap [{name: prod}, {kubeconfig: ${kubeconfig}}]` }), "cluster"],
      [
        "!!binary",
        yaml({ cluster: `cluster:\n  name: !!binary cHJvZA==\n  kubeconfig: ${kubeconfig}` }),
        "cluster.name",
      ],
      ["custom tag", yaml({ export: `export: !local {destination: "file://${destination}"}` }), "export"],
      [
        "!!timestamp",
        yaml({ schedules: "schedules:\n  - name: nightly\n    cron: !!timestamp 2026-01-01" }),
        "schedules[0].cron",
      ],
      ["huge grace", yaml({ schedules: schedule("grace: 999999999999h") }), "schedules[0].grace"],
      ["offset zone", yaml({ schedules: schedule('timezone: "+05:30"') }), "schedules[0].timezone"],
      ["miscased zone", yaml({ schedules: schedule("timezone: europe/paris") }), "schedules[0].timezone"],
      [
        "ESC in cluster name",
        yaml({ cluster: `cluster:\n  name: "prod\\e[31m"\n  kubeconfig: ${kubeconfig}` }),
        "cluster.name",
      ],
      [
        "megabyte schedule name",
        yaml({ schedules: `schedules:\n  - name: ${"a".repeat(1_000_000)}\n    cron: "0 2 * * *"` }),
        "schedules[0].name",
      ],
      [
        "CRLF in a header",
        yaml({
          alerts: 'alerts:\n  webhook:\n    url: env:KB_HOOK\n    headers: {X-Team: "a\\r\\nX-Injected: 1"}',
        }),
        "alerts.webhook.headers.X-Team",
      ],
    ];
    const commands = [
      ["backup"],
      ["ls"],
      ["verify"],
      ["status"],
      ["export", "--latest"],
      ["silence", "nightly", "--for", "1h"],
      ["unsilence", "nightly"],
      ["daemon"],
    ];
    // The same commands with a valid config do write state: `silence` here, to another folder.
    const elsewhere = join(dir, "elsewhere");
    const valid = join(dir, "valid-elsewhere.yaml");
    writeFileSync(valid, yaml({ export: `export:\n  destination: file://${elsewhere}` }));
    expect((await cli(["--config", valid, "--json", "silence", "nightly", "--for", "1h"])).code).toBe(0);
    expect(filesUnder(elsewhere).length).toBeGreaterThan(0);

    const apiBefore = env.apiRequests().length;
    const kotsadmBefore = env.sandbox.kotsadm.requests.length;
    let runs = 0;
    for (const [i, [kind, text, field]] of cases.entries()) {
      const file = join(dir, `edge-${i}.yaml`);
      writeFileSync(file, text);
      for (const command of commands) {
        const run = await cli(["--config", file, "--json", ...command]);
        runs += 1;
        const what = `${kind} via ${command[0]}`;
        expect(run.code, `${what}: ${run.stdout.slice(0, 500)}${run.stderr.slice(0, 500)}`).toBe(2);
        expect(run.json?.error, what).toMatchObject({ code: "invalid-config", field });
        expect((run.stdout + run.stderr).replaceAll("\n", " "), what).not.toMatch(CONTROL);
        expect(run.stdout.length, what).toBeLessThan(2_000);
      }
    }
    expect(runs).toBe(cases.length * commands.length);
    expect(env.apiRequests().length).toBe(apiBefore);
    expect(env.sandbox.kotsadm.requests.length).toBe(kotsadmBefore);
    expect(filesUnder(destination)).toEqual([]);
  });

  it("refuses invalid backup flags with exit 2 before any call", async () => {
    const apiBefore = env.apiRequests().length;
    const kotsadmBefore = env.sandbox.kotsadm.requests.length;
    const kc = ["--kubeconfig", env.sandbox.kubeconfigPath, "--json", "backup"];
    const cases: [string[], string][] = [
      [["--type", "partial"], "--app"],
      [["--type", "weird"], ""],
      [["--timeout", "soon"], "--timeout"],
      [["--timeout", "-5m"], "--timeout"],
      [["--type", "full", "--app", "my-app"], "--app"],
    ];
    for (const [flags, field] of cases) {
      const run = await cli([...kc, ...flags]);
      expect(run.code, flags.join(" ")).toBe(2);
      if (field) expect(run.json?.error?.field, flags.join(" ")).toBe(field);
      else expect(run.json?.error?.message).toMatch(/Allowed choices are full, partial/);
    }
    expect(env.apiRequests().length).toBe(apiBefore);
    expect(env.sandbox.kotsadm.requests.length).toBe(kotsadmBefore);
  });
});

// ── On-demand events ──────────────────────────────────────────────────────────────────────────────

interface InvalidEvent {
  kind: string;
  event: Obj;
  field: string;
}

const VALID_EVENTS: Obj[] = [
  { action: "backup", type: "full" },
  { action: "backup", type: "partial", app: "my-app", wait: true },
  { action: "ls" },
  { action: "ls", app: "my-app" },
  { action: "export", backup: "latest", scope: "manifests" },
  { action: "verify" },
  { action: "status" },
  { action: "config-download", app: "my-app" },
];
const EVENT_KEYS = ["action", "type", "app", "wait", "backup", "scope", "includePartiallyFailed"];

function invalidEvent(): fc.Arbitrary<InvalidEvent> {
  const base = fc.constantFrom(...VALID_EVENTS);
  const unknownKey = fc
    .tuple(
      base,
      key.filter((k) => !EVENT_KEYS.includes(k)),
    )
    .map(([event, k]) => ({ kind: "unknown key", event: { ...event, [k]: 1 }, field: k }));
  const badAction = fc
    .oneof(
      fc
        .stringMatching(/^[a-z-]{1,12}$/)
        .filter((a) => !["backup", "ls", "export", "verify", "status", "config-download"].includes(a)),
      fc.integer(),
      fc.constant(null),
    )
    .map((action) => ({ kind: "bad action", event: { action } as Obj, field: "action" }));
  const missingAction = fc.constant({
    kind: "missing action",
    event: { type: "full" } as Obj,
    field: "action",
  });
  const badType = fc
    .oneof(
      fc.stringMatching(/^[a-z]{1,8}$/).filter((t) => t !== "full" && t !== "partial"),
      fc.boolean(),
    )
    .map((type) => ({ kind: "bad backup type", event: { action: "backup", type } as Obj, field: "type" }));
  const partialWithoutApp = fc.constant({
    kind: "partial without app",
    event: { action: "backup", type: "partial" } as Obj,
    field: "app",
  });
  const badSlug = fc
    .tuple(
      fc.constantFrom("ls", "config-download", "backup"),
      fc.oneof(
        fc.stringMatching(/^[A-Z _]{1,12}$/),
        fc.constant(""),
        fc
          .integer()
          .map(String)
          .map((s) => `-${s}`),
      ),
    )
    .map(([action, app]) => ({
      kind: "bad app slug",
      event: (action === "backup" ? { action, type: "partial", app } : { action, app }) as Obj,
      field: "app",
    }));
  const badBackup = fc
    .oneof(fc.stringMatching(/^[A-Z_ ]{1,12}$/), fc.constant(""), fc.integer())
    .map((backup) => ({
      kind: "bad backup name",
      event: { action: "export", backup } as Obj,
      field: "backup",
    }));
  const missingBackup = fc.constant({
    kind: "export without backup",
    event: { action: "export" } as Obj,
    field: "backup",
  });
  const badScope = fc
    .stringMatching(/^[a-z]{1,10}$/)
    .filter((s) => !["auto", "full", "manifests"].includes(s))
    .map((scope) => ({
      kind: "bad scope",
      event: { action: "export", backup: "latest", scope } as Obj,
      field: "scope",
    }));
  const badWait = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)).map((wait) => ({
    kind: "wait not boolean",
    event: { action: "backup", type: "full", wait } as Obj,
    field: "wait",
  }));
  const badFlag = fc.oneof(fc.string({ maxLength: 5 }), fc.integer()).map((v) => ({
    kind: "includePartiallyFailed not boolean",
    event: { action: "export", backup: "latest", includePartiallyFailed: v } as Obj,
    field: "includePartiallyFailed",
  }));
  return fc.oneof(
    unknownKey,
    badAction,
    missingAction,
    badType,
    partialWithoutApp,
    badSlug,
    badBackup,
    missingBackup,
    badScope,
    badWait,
    badFlag,
  );
}

describe("invalid on-demand events (fast-check)", () => {
  it("accepts the valid ones", () => {
    for (const event of VALID_EVENTS) expect(() => parseOnDemandEvent(event)).not.toThrow();
  });

  it(`refuses each of ≥ ${MIN_INVALID_EVENTS} generated invalid events with exit 2, naming the field`, () => {
    let tried = 0;
    fc.assert(
      fc.property(invalidEvent(), (invalid) => {
        tried += 1;
        const error = refusal(() => parseOnDemandEvent(invalid.event));
        expect(error.exitCode).toBe(2);
        expect(error.code).toBe("invalid-event");
        expect(error.field, `${invalid.kind} ${JSON.stringify(invalid.event)}: ${error.message}`).toBe(
          invalid.field,
        );
      }),
      { numRuns: 400 },
    );
    expect(tried).toBeGreaterThanOrEqual(MIN_INVALID_EVENTS);
    process.stdout.write(`bad input: ${tried} invalid on-demand events refused\n`);
  });
});

describeWithMoto("invalid on-demand events through the real onDemand handler: zero side effects", () => {
  let env: LoggedSandbox;
  let dep: FakeDeployment;
  let handler: typeof import("../../packages/functions/src/on-demand.ts").handler;
  beforeAll(async () => {
    env = await loggedSandbox();
    // The handler as deployed: middy + Powertools, SST's Resource link faked, S3, the bus, Secrets
    // Manager (the cluster's credentials) on moto, the cluster the sandbox.
    dep = await fakeDeployment({ sandbox: env.sandbox });
    ({ handler } = await import("../../packages/functions/src/on-demand.ts"));
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await env?.stop();
  });

  const invoke = (event: unknown) => handler(event as never, lambdaContext("onDemand")) as Promise<unknown>;

  it(`refuses each of ${HANDLER_EVENTS} generated invalid events naming the field: no kotsadm, Kubernetes, S3 or bus side effect`, async () => {
    // Valid events through the same warm container do reach the cluster, kotsadm and the bucket: the
    // request logs and the object count below can see a call and a write.
    const listed = await invoke({ action: "ls" });
    expect(Array.isArray(listed)).toBe(true);
    expect(await invoke({ action: "config-download", app: "my-app" })).toMatchObject({ app: "my-app" });
    expect(env.apiRequests().length).toBeGreaterThan(0);
    expect(env.sandbox.kotsadm.requests.length).toBeGreaterThan(0);
    expect((await dep.objects()).length).toBeGreaterThan(0);
    await dep.takeEvents();
    const before = {
      api: env.apiRequests().length,
      downloads: env.downloadRequests().length,
      kotsadm: env.sandbox.kotsadm.requests.length,
      revision: env.sandbox.state.resourceVersion,
      objects: await dep.objects(),
    };
    // The handler's log lines (one structured ERROR per rejection) go to the run's capture, which the
    // secret scan reads, rather than to the terminal.
    const logged: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, "write").mockImplementation(((chunk: string | Uint8Array) => {
        logged.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
        return true;
      }) as typeof stream.write),
    );
    const kinds = new Map<string, number>();
    let tried = 0;
    await fc
      .assert(
        fc.asyncProperty(invalidEvent(), async (invalid) => {
          tried += 1;
          kinds.set(invalid.kind, (kinds.get(invalid.kind) ?? 0) + 1);
          const error = await invoke(invalid.event).then(
            () => undefined,
            (e: unknown) => e as InputError,
          );
          const what = `${invalid.kind} ${JSON.stringify(invalid.event)}`;
          expect(error, what).toBeInstanceOf(InputError);
          expect(error, what).toMatchObject({ code: "invalid-event", exitCode: 2, field: invalid.field });
          expect(error?.message, what).toContain(invalid.field);
        }),
        { numRuns: HANDLER_EVENTS },
      )
      .finally(() => {
        for (const spy of spies) spy.mockRestore();
        recordCaptured(logged.join(""));
      });
    expect(tried).toBeGreaterThanOrEqual(MIN_INVALID_EVENTS);
    const errors = logged
      .join("")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level?: string; error?: { code?: string; field?: string } })
      .filter((line) => line.level === "ERROR");
    expect(errors).toHaveLength(tried);
    expect(errors.every((e) => e.error?.code === "invalid-event" && e.error.field)).toBe(true);
    expect(kinds.size).toBeGreaterThanOrEqual(11);
    // Zero side effects, on the peers' own logs: no Kubernetes request (reads included) and no write,
    // no kotsadm call, no signed-URL download, no object added or removed, no event on the bus.
    expect(env.apiRequests().length).toBe(before.api);
    expect(env.downloadRequests().length).toBe(before.downloads);
    expect(env.sandbox.kotsadm.requests.length).toBe(before.kotsadm);
    expect(env.sandbox.state.resourceVersion).toBe(before.revision);
    const objects = await dep.objects();
    expect(objects).toEqual(before.objects);
    expect(await dep.takeEvents()).toEqual([]);
    process.stdout.write(
      `bad input: ${tried} invalid on-demand events through the onDemand handler refused naming the field (${kinds.size} kinds); 0 Kubernetes requests, 0 kotsadm calls, 0 bus events, objects in the bucket ${before.objects.length} before and ${objects.length} after\n`,
    );
  });
});

defineSecretScan("bad-input");

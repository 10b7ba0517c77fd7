// Builds infra/ under Pulumi mocks (toolchain.md §2.10): SST components and @pulumi/aws come from
// .sst/platform (installed by `sst install`, see scripts/setup.mjs) so that components, raw resources
// and the mocks share one Pulumi runtime. The globals sst.config.ts gets from SST ($app, sst, aws, …)
// are set here. Infra modules are imported by path at run time: they rely on those globals, which the
// root tsconfig does not declare (tsconfig.sst.json type-checks them).
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
const PLATFORM = join(ROOT, ".sst", "platform");

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

export interface MockResource {
  type: string;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: Pulumi inputs are untyped JSON here.
  inputs: Record<string, any>;
}

// biome-ignore lint/suspicious/noExplicitAny: modules loaded by path are untyped.
type Loose = any;

export function platformInstalled(): boolean {
  return existsSync(join(PLATFORM, "src", "components", "aws", "cron-v2.ts"));
}

function arnFor(type: string, name: string, inputs: Record<string, unknown>): string {
  const service = type.split(":")[1]?.split("/")[0] ?? "mock";
  switch (service) {
    case "s3":
      return `arn:aws:s3:::${String(inputs["bucket"] ?? name)}`;
    case "sqs":
      return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
    case "sns":
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
    case "kms":
      return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}-key-id`;
    case "cloudwatch":
      return type.includes("eventBus")
        ? `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${String(inputs["name"] ?? name)}`
        : type.includes("eventRule")
          ? `arn:aws:events:${REGION}:${ACCOUNT}:rule/${name}`
          : `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`;
    case "iam":
      return `arn:aws:iam::${ACCOUNT}:role/${name}`;
    default:
      return `arn:aws:${service}:${REGION}:${ACCOUNT}:${name}`;
  }
}

/** Renders `aws.iam.getPolicyDocument` inputs as the provider would (the subset SST uses). */
export function renderPolicyDocument(inputs: Loose): string {
  const statements = (inputs.statements ?? []).map((s: Loose) => {
    const out: Record<string, unknown> = { Effect: s.effect ?? "Allow", Action: s.actions };
    if (s.resources) out["Resource"] = s.resources;
    if (s.principals) {
      const principal: Record<string, unknown> = {};
      for (const p of s.principals) principal[p.type] = p.identifiers;
      out["Principal"] = principal["*"] ? "*" : principal;
    }
    if (s.conditions?.length) {
      const condition: Record<string, Record<string, unknown>> = {};
      for (const c of s.conditions) condition[c.test] = { ...condition[c.test], [c.variable]: c.values };
      out["Condition"] = condition;
    }
    return out;
  });
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

export interface FakeFunctionRecord {
  name: string;
  args: Loose;
}

export interface Harness {
  pulumi: Loose;
  resources: MockResource[];
  /** `sst.aws.Function` stand-ins created so far (name and args as infra passed them). */
  functions: FakeFunctionRecord[];
  /** Runs `build`, waits until no more resources register, and returns those it created. */
  capture(build: () => unknown | Promise<unknown>): Promise<MockResource[]>;
  /** Resolves an Output. */
  value<T>(output: Loose): Promise<T>;
  /** Imports an infra module (by path, after the globals are set). */
  infra(module: string): Promise<Loose>;
}

let harness: Harness | undefined;

export async function setupHarness(stage = "test"): Promise<Harness> {
  if (harness) return harness;
  if (!platformInstalled()) {
    throw new Error(
      "SST platform sources missing in .sst/platform: run `npm run setup` (offline `sst install`)",
    );
  }
  const pulumi: Loose = await import(join(PLATFORM, "node_modules", "@pulumi", "pulumi", "index.js"));
  const resources: MockResource[] = [];
  pulumi.runtime.setMocks(
    {
      newResource(args: Loose) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const inputs = args.inputs as Record<string, unknown>;
        const state: Record<string, unknown> = { ...inputs, arn: arnFor(args.type, args.name, inputs) };
        if (args.type === "aws:s3/bucket:Bucket")
          state["bucket"] = inputs["bucket"] ?? `${args.name.toLowerCase()}-generated`;
        if (args.type === "aws:sqs/queue:Queue") {
          state["name"] = args.name;
          state["url"] = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${args.name}`;
        }
        if (args.type === "aws:kms/key:Key") state["keyId"] = `${args.name}-key-id`;
        if (state["name"] === undefined) state["name"] = args.name;
        return { id: `${args.name}-id`, state };
      },
      call(args: Loose) {
        switch (args.token) {
          case "aws:iam/getPolicyDocument:getPolicyDocument":
            return {
              json: renderPolicyDocument(args.inputs),
              minifiedJson: renderPolicyDocument(args.inputs),
            };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
          case "aws:index/getRegion:getRegion":
            return { name: REGION, region: REGION, id: REGION };
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return {
              accountId: ACCOUNT,
              arn: `arn:aws:iam::${ACCOUNT}:user/test`,
              userId: "test",
              id: ACCOUNT,
            };
          default:
            return args.inputs;
        }
      },
    },
    "kots-backup",
    stage,
    false,
  );

  const aws: Loose = await import(join(PLATFORM, "node_modules", "@pulumi", "aws", "index.js"));
  const component = (file: string) => import(join(PLATFORM, "src", "components", file));
  const [{ Bucket }, { CronV2 }, { Bus }, { SnsTopic }, { Secret }, { Linkable }] = await Promise.all([
    component("aws/bucket.ts"),
    component("aws/cron-v2.ts"),
    component("aws/bus.ts"),
    component("aws/sns-topic.ts"),
    component("secret.ts"),
    component("linkable.ts"),
  ]);

  // `sst.aws.Function` cannot be built under mocks (its builder calls the SST CLI over RPC). This
  // stand-in records the args infra passes, and exposes `name`/`arn` like a deployed function.
  const functions: FakeFunctionRecord[] = [];
  class FakeFunction {
    readonly name: Loose;
    readonly arn: Loose;
    constructor(name: string, args: Loose) {
      functions.push({ name, args });
      this.name = pulumi.output(`kots-backup-${stage}-${name}Function`);
      this.arn = pulumi.output(
        `arn:aws:lambda:${REGION}:${ACCOUNT}:function:kots-backup-${stage}-${name}Function`,
      );
    }
  }

  const g = globalThis as Loose;
  g.$app = { name: "kots-backup", stage, removal: "remove", providers: {}, protect: false };
  g.$dev = false;
  g.$util = pulumi;
  g.$output = pulumi.output;
  g.$interpolate = pulumi.interpolate;
  g.$resolve = pulumi.all;
  g.$jsonStringify = pulumi.jsonStringify;
  g.aws = aws;
  g.sst = { aws: { Bucket, CronV2, Bus, SnsTopic, Function: FakeFunction }, Secret, Linkable };
  g.$config = (config: unknown) => config;

  const settle = async () => {
    let count = -1;
    let stable = 0;
    while (stable < 5) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (resources.length === count) stable += 1;
      else {
        count = resources.length;
        stable = 0;
      }
    }
  };

  harness = {
    pulumi,
    resources,
    functions,
    async capture(build) {
      const start = resources.length;
      await build();
      await settle();
      return resources.slice(start);
    },
    value<T>(output: Loose): Promise<T> {
      return new Promise<T>((resolve) => pulumi.output(output).apply((v: T) => resolve(v)));
    },
    infra(module: string) {
      return import(join(ROOT, "infra", module));
    },
  };
  return harness;
}

export function byType(resources: MockResource[], type: string): MockResource[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: MockResource[], type: string, name?: string): MockResource {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
  }
  return found[0] as MockResource;
}

// Resolves a secret reference (parsed by core's secret-ref.ts, the one parser) into a Secret:
//   env:NAME               process environment variable NAME
//   file:/abs/path         file content (one trailing newline dropped)
//   arn:…:secret:<name>[#jsonKey]
//                          Secrets Manager GetSecretValue (AWSCURRENT), cached per process for
//                          `maxAgeMs`; with `#jsonKey` the secret must be a JSON object and the value is
//                          that key's
//   sst:Name               `Resource.Name.value` of a linked `sst.Secret` (in the deployed functions only)
// Errors name the kind and the variable, path or ARN (never the value) and say what to do.
import { readFile } from "node:fs/promises";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { EnvironmentError, InputError, readSecretRef, type SecretRef } from "@kots-backup/core";
import { Secret } from "./secret.ts";

export type { SecretRef };

export interface ResolveSecretOptions {
  /** Config path of the reference, for error messages, e.g. `alerts.pagerDuty.routingKey`. */
  field?: string;
  /** Environment to read `env:` references from, and to tell Lambda (AWS_LAMBDA_FUNCTION_NAME) by (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Secrets Manager client for a region (default: a new client for the ARN's region). */
  secretsManager?: (region: string) => SecretsManagerClient;
  /** How long a Secrets Manager value is reused within this process (default 5 minutes). */
  maxAgeMs?: number;
  /** Clock for the cache (default `Date.now`). */
  now?: () => number;
  /** Stand-in for SST's `Resource` proxy (default: lazily `import("sst")`). */
  sstResource?: Record<string, unknown>;
}

export const SECRET_CACHE_MAX_AGE_MS = 5 * 60_000;

/** Parses a reference, or throws an InputError naming `field`. Never echoes the input: it may be a pasted secret value. */
export function parseSecretRef(ref: string, field?: string): SecretRef {
  const read = readSecretRef(ref);
  if ("ref" in read) return read.ref;
  throw new InputError("secret-ref-invalid", `${field ?? "the secret reference"}: ${read.problem}`, {
    ...(field ? { field } : {}),
    fix: read.fix,
  });
}

/** Resolves a secret reference to its value. */
export async function resolveSecret(ref: string, options: ResolveSecretOptions = {}): Promise<Secret> {
  const parsed = parseSecretRef(ref, options.field);
  const fieldOpt = options.field ? { field: options.field } : {};
  const where = options.field ? `${options.field}: ` : "";
  const missing = (what: string, fix: string, cause?: unknown) =>
    new EnvironmentError("secret-missing", `${where}${what}`, {
      ...fieldOpt,
      fix,
      ...(cause === undefined ? {} : { cause }),
    });

  switch (parsed.kind) {
    case "env": {
      const value = (options.env ?? process.env)[parsed.name];
      if (value === undefined || value === "") {
        throw missing(
          `environment variable ${parsed.name} (from ${ref}) is not set or empty`,
          `export ${parsed.name}=<value> in the environment kots-backup runs in`,
        );
      }
      return new Secret(value, ref);
    }
    case "file": {
      let text: string;
      try {
        text = await readFile(parsed.name, "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "error";
        throw missing(
          `cannot read secret file ${parsed.name} (${code})`,
          code === "EACCES"
            ? `let the user running kots-backup read ${parsed.name}`
            : `create ${parsed.name} holding the secret, or fix the path`,
        );
      }
      const value = text.replace(/\r?\n$/, "");
      if (value === "")
        throw missing(`secret file ${parsed.name} is empty`, `write the secret to ${parsed.name}`);
      return new Secret(value, ref);
    }
    case "sst":
      return new Secret(await readSstSecret(parsed.name, ref, options, missing), ref);
    case "secretsmanager": {
      const raw = await readSecretsManager(parsed.name, parsed.region, options, where, fieldOpt);
      if (parsed.jsonKey === undefined) return new Secret(raw, ref);
      return new Secret(pickJsonKey(raw, parsed.name, parsed.jsonKey, where, fieldOpt), ref);
    }
  }
}

type MissingFactory = (what: string, fix: string, cause?: unknown) => EnvironmentError;

async function readSstSecret(
  name: string,
  ref: string,
  options: ResolveSecretOptions,
  missing: MissingFactory,
): Promise<string> {
  const link = `link it to the function in sst.config.ts (link: [${name}]) and set it with \`sst secret set ${name} <value>\``;
  // Only the deployed functions have SST links: a local run (CLI, daemon) needs a reference it can read.
  const inLambda = Boolean((options.env ?? process.env)["AWS_LAMBDA_FUNCTION_NAME"]);
  const fix = inLambda
    ? link
    : `sst: references resolve only in the deployed functions, and this runs outside Lambda: for a local run, use env:NAME or file:/path instead (in the deployed functions, ${link})`;
  let resource = options.sstResource;
  if (!resource) {
    // Lazy: the CLI never loads SST's resource proxy unless a config uses sst: references.
    const sst = (await import("sst")) as unknown as { Resource: Record<string, unknown> };
    resource = sst.Resource;
  }
  let entry: unknown;
  try {
    entry = resource[name];
  } catch {
    // SST throws `"Name" is not linked…` or "SST links are not active"; say it our way.
    throw missing(`SST secret ${name} (from ${ref}) is not linked`, fix);
  }
  const value = (entry as { value?: unknown } | undefined)?.value;
  if (typeof value !== "string" || value === "") {
    throw missing(`SST resource ${name} (from ${ref}) has no secret value`, fix);
  }
  return value;
}

interface CacheEntry {
  expiresAt: number;
  value: Promise<string>;
}
const smCache = new Map<string, CacheEntry>();

/** Forgets cached Secrets Manager values (tests, or after a rotation). */
export function clearSecretCache(): void {
  smCache.clear();
}

async function readSecretsManager(
  arn: string,
  region: string,
  options: ResolveSecretOptions,
  where: string,
  fieldOpt: { field?: string },
): Promise<string> {
  const now = (options.now ?? Date.now)();
  const cached = smCache.get(arn);
  if (cached && cached.expiresAt > now) return cached.value;
  const value = fetchSecretsManager(arn, region, options, where, fieldOpt);
  const entry = { expiresAt: now + (options.maxAgeMs ?? SECRET_CACHE_MAX_AGE_MS), value };
  smCache.set(arn, entry);
  // Failures are not cached: the next call asks again.
  value.catch(() => {
    if (smCache.get(arn) === entry) smCache.delete(arn);
  });
  return value;
}

async function fetchSecretsManager(
  arn: string,
  region: string,
  options: ResolveSecretOptions,
  where: string,
  fieldOpt: { field?: string },
): Promise<string> {
  const client = options.secretsManager?.(region) ?? new SecretsManagerClient({ region });
  let out: { SecretString?: string; SecretBinary?: Uint8Array };
  try {
    out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  } catch (error) {
    const name = (error as { name?: string }).name ?? "Error";
    if (name === "ResourceNotFoundException") {
      throw new EnvironmentError("secret-missing", `${where}Secrets Manager secret ${arn} does not exist`, {
        ...fieldOpt,
        fix: "create the secret (with a current value) or correct the ARN",
      });
    }
    if (name === "AccessDeniedException" || name === "AccessDenied") {
      throw new EnvironmentError("secret-access-denied", `${where}access denied reading ${arn}`, {
        ...fieldOpt,
        fix: `allow secretsmanager:GetSecretValue on ${arn} (and kms:Decrypt on its key) for kots-backup's role`,
      });
    }
    throw new EnvironmentError(
      "secret-unavailable",
      `${where}cannot read ${arn} from Secrets Manager (${name})`,
      {
        ...fieldOpt,
        fix: `check network access to Secrets Manager in ${region} and the credentials kots-backup runs with`,
      },
    );
  }
  const value =
    out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString("utf8") : undefined);
  if (value === undefined || value === "") {
    throw new EnvironmentError("secret-missing", `${where}Secrets Manager secret ${arn} has no value`, {
      ...fieldOpt,
      fix: "put a value in the secret (aws secretsmanager put-secret-value)",
    });
  }
  return value;
}

function pickJsonKey(
  raw: string,
  arn: string,
  key: string,
  where: string,
  fieldOpt: { field?: string },
): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new EnvironmentError(
      "secret-json-key-missing",
      `${where}Secrets Manager secret ${arn} is not a JSON object, so #${key} cannot be read`,
      { ...fieldOpt, fix: `store a JSON object with a "${key}" key, or drop #${key} from the reference` },
    );
  }
  const value = (parsed as Record<string, unknown>)[key];
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number") return String(value);
  throw new EnvironmentError(
    "secret-json-key-missing",
    `${where}Secrets Manager secret ${arn} has no non-empty string key "${key}"`,
    { ...fieldOpt, fix: `add "${key}" to the secret's JSON, or fix the key after # in the reference` },
  );
}

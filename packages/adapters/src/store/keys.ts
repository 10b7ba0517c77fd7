// Object keys shared by every ObjectStore: relative, `/`-separated, no empty, `.` or `..` segments.
// The same rule for S3 and the local folder keeps a layout portable between the two.
import { InputError } from "@kots-backup/core";

const HEX64 = /^[0-9a-f]{64}$/;

/** Throws InputError unless `key` is a valid object key; returns it unchanged. */
export function checkKey(key: string, location: string): string {
  const problem = keyProblem(key);
  if (problem) {
    throw new InputError(
      "invalid-object-key",
      `invalid object key ${JSON.stringify(key)} for ${location}: ${problem}`,
      {
        fix: "use a relative key of `/`-separated names without empty, `.` or `..` parts",
      },
    );
  }
  return key;
}

/** Why `key` is not a valid object key, or undefined. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "empty";
  if (Buffer.byteLength(key) > 1024) return "longer than 1024 bytes";
  if (key.startsWith("/")) return "absolute (starts with /)";
  if (key.includes("\\")) return "contains a backslash";
  if (key.includes("\0")) return "contains a NUL character";
  for (const segment of key.split("/")) {
    if (segment === "") return "has an empty path segment";
    if (segment === "." || segment === "..") return `has a ${segment} segment`;
  }
  return undefined;
}

/** Throws InputError when a list prefix could escape the store (`..`, absolute, NUL). */
export function checkPrefix(prefix: string, location: string): string {
  if (prefix === "") return prefix;
  const segments = prefix.split("/");
  if (prefix.startsWith("/") || prefix.includes("\0") || prefix.includes("\\") || segments.includes("..")) {
    throw new InputError(
      "invalid-object-key",
      `invalid list prefix ${JSON.stringify(prefix)} for ${location}`,
      {
        fix: "use a relative prefix without `..` parts",
      },
    );
  }
  return prefix;
}

/** Whether `value` is a lower-case hex SHA-256. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && HEX64.test(value);
}

/** Byte-wise (UTF-8) key order, the order S3 lists keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

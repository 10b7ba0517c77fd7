// Export destinations: `s3://bucket/prefix`, `file:///abs/path`, or a path relative to the working
// directory. Parsing is pure; resolving a relative path against the working directory is the adapter's job.

export const DEFAULT_DESTINATION = "./kots-backup-data";

export type Destination =
  | {
      kind: "s3";
      bucket: string /** No leading or trailing slash; "" for the bucket root. */;
      prefix: string;
    }
  | {
      kind: "file" /** Absolute for `file:///…`, else relative as written. */;
      path: string;
      relative: boolean;
    };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses a destination, or returns a problem sentence when it is not one. */
export function parseDestination(text: string): Destination | { problem: string } {
  if (text.startsWith("s3://")) {
    const [bucket = "", ...rest] = text.slice("s3://".length).split("/");
    if (!BUCKET.test(bucket)) return { problem: `"${bucket}" is not a valid S3 bucket name` };
    const prefix = rest.join("/").replace(/^\/+|\/+$/g, "");
    if (prefix.includes("//")) return { problem: "the S3 prefix contains an empty segment (//)" };
    return { kind: "s3", bucket, prefix };
  }
  if (text.startsWith("file://")) {
    const path = text.slice("file://".length);
    if (!path.startsWith("/"))
      return { problem: "a file:// destination needs an absolute path: file:///abs/path" };
    return { kind: "file", path, relative: false };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    return { problem: "only s3:// and file:// destinations are supported" };
  if (text.startsWith("/")) return { problem: `an absolute path is written as a URL: file://${text}` };
  if (text.trim() === "") return { problem: "the destination is empty" };
  return { kind: "file", path: text, relative: true };
}

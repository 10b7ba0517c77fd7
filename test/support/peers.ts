// Access to the test peers from inside a test file.
import { S3Client } from "@aws-sdk/client-s3";
import { describe, inject } from "vitest";

export const AWS_TEST_CREDENTIALS = {
  accessKeyId: "testing-access-key",
  secretAccessKey: "testing-secret-key",
};
export const AWS_TEST_REGION = "us-east-1";

/** The moto endpoint, or "" when the peer is not installed (tests then skip). */
export function motoEndpoint(): string {
  return inject("motoEndpoint");
}

/** `describe` that runs only when the moto peer is up, and says so when it skips. */
export const describeWithMoto = (name: string, body: () => void) =>
  motoEndpoint() ? describe(name, body) : describe.skip(`${name} (moto peer missing: npm run setup)`, body);

/** Client settings for any AWS SDK v3 client talking to moto. */
export function motoClientConfig() {
  return {
    endpoint: motoEndpoint(),
    region: AWS_TEST_REGION,
    credentials: AWS_TEST_CREDENTIALS,
  };
}

export function motoS3(): S3Client {
  return new S3Client({ ...motoClientConfig(), forcePathStyle: true });
}

let counter = 0;
/** A resource name unique within the run: `<prefix>-<pid>-<time>-<n>`. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** A bucket name unique within the run (moto keeps one global namespace). */
export function uniqueBucketName(prefix = "kb"): string {
  return uniqueName(prefix).toLowerCase();
}

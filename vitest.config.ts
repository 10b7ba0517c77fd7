import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/capture.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    env: {
      // Handlers read linked resources through SST's Resource proxy; tests fake the links.
      SST_RESOURCE_App: JSON.stringify({ name: "kots-backup", stage: "test" }),
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing-access-key",
      AWS_SECRET_ACCESS_KEY: "testing-secret-key",
      POWERTOOLS_DEV: "false",
    },
  },
});

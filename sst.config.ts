/// <reference path="./.sst/platform/config.d.ts" />

// kots-backup on AWS: one module per concern under infra/, chained here.
export default $config({
  app(input) {
    return {
      name: "kots-backup",
      home: "aws",
      // Exports are the product: never delete the bucket with the stage in production.
      removal: input?.stage === "prod" ? "retain" : "remove",
    };
  },
  async run() {
    const { exportBucket } = await import("./infra/storage");
    return { exportBucket: exportBucket.name };
  },
});

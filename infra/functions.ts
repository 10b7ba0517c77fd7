// The four Lambda functions. What each is and may do is plain data in permissions.ts; here it becomes
// `sst.aws.Function` args. Least privilege: no `link` to the bucket, bus or topic (SST would grant `s3:*`,
// `events:*`, `sns:*`); each function gets explicit `permissions` for the actions, bucket prefixes,
// secrets, bus and queue it uses. Links carry only values: the deployment linkable (config + resource
// names, no IAM) and the sst.Secrets the function reads (no IAM).
import { METRICS_NAMESPACE, SERVICE_NAME } from "../packages/core/src/events.ts";
import type { Alerting } from "./alerting.ts";
import { BUNDLE_PLUGINS_FILE, ESBUILD_OPTIONS } from "./bundling.ts";
import type { DeploySettings } from "./config.ts";
import { NODE_OPTIONS } from "./node-options.ts";
import { FUNCTION_NAMES, FUNCTION_SPECS, type FunctionName, functionPermissions } from "./permissions.ts";
import type { Secrets } from "./secrets.ts";
import type { Storage } from "./storage.ts";

/** Name of the linkable carrying the config (packages/functions/src/config-delivery.ts reads it). */
export const DEPLOYMENT_LINK = "KotsBackupDeployment";

/** The document as written, with the destination pointed at the stack's bucket. */
export function deliveredDocument(
  document: Record<string, unknown>,
  bucketName: string,
  prefix: string,
): Record<string, unknown> {
  const exportSection = (document["export"] ?? {}) as Record<string, unknown>;
  const path = prefix.replace(/\/$/, "");
  return {
    ...document,
    export: { ...exportSection, destination: `s3://${bucketName}${path === "" ? "" : `/${path}`}` },
  };
}

export interface CreateFunctionsArgs {
  settings: DeploySettings;
  storage: Storage;
  alerting: Alerting;
  secrets: Secrets;
}

export function createFunctions({ settings, storage, alerting, secrets }: CreateFunctionsArgs) {
  const partition = aws.getPartitionOutput({}).partition;
  const region = aws.getRegionOutput({}).region;
  const accountId = aws.getCallerIdentityOutput({}).accountId;
  const prefix = storage.prefix;

  const targets = $resolve([
    partition,
    region,
    accountId,
    storage.bucket.arn,
    storage.key.arn,
    alerting.bus.arn,
    alerting.deadLetters.arn,
  ]).apply(([partition, region, accountId, bucketArn, kmsKeyArn, busArn, deadLetterQueueArn]) => ({
    partition,
    region,
    accountId,
    bucketArn,
    prefix,
    kmsKeyArn,
    busArn,
    deadLetterQueueArn,
  }));

  const deployment = new sst.Linkable(DEPLOYMENT_LINK, {
    properties: {
      config: storage.bucket.name.apply((name) => deliveredDocument(settings.document, name, prefix)),
      bucket: storage.bucket.name,
      prefix,
      busName: alerting.bus.name,
    },
  });

  const build = (fn: FunctionName) => {
    const spec = FUNCTION_SPECS[fn];
    const vpc = spec.usesCluster ? settings.vpc : undefined;
    return new sst.aws.Function(spec.component, {
      handler: spec.handler,
      description: spec.description,
      runtime: "nodejs24.x",
      architecture: "arm64",
      timeout: `${spec.timeoutSeconds} seconds`,
      memory: `${spec.memoryMb} MB`,
      retries: spec.retries,
      link: [deployment, ...secrets.forFunction(fn)],
      permissions: targets.apply((t) => functionPermissions(fn, settings.config, t)),
      ...(vpc ? { vpc: { privateSubnets: vpc.privateSubnets, securityGroups: vpc.securityGroups } } : {}),
      logging: { format: "json", retention: "3 months" },
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS,
      },
      // Bundled as scripts/bundle-size.ts measures it (infra/bundling.ts): minified (said explicitly, not
      // left to SST's default), ESM builds of the dependencies, the esbuild plugins of that file. No
      // `sourcemap: true`: that packages the map (~7.5 MB, 1.7 MB zipped), which --enable-source-maps
      // reads at every cold start (+55–100 ms) and which takes the zip past 1 MB; left unset, SST uploads
      // it to its bootstrap bucket (for the console) instead.
      nodejs: { minify: true, esbuild: ESBUILD_OPTIONS, plugins: BUNDLE_PLUGINS_FILE },
      transform: {
        function: (args) => {
          // Async invocations that still fail after the retries are kept, not dropped.
          if (spec.deadLetterQueue) args.deadLetterConfig = { targetArn: alerting.deadLetters.arn };
        },
      },
    });
  };

  const functions = Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, build(fn)])) as Record<
    FunctionName,
    sst.aws.Function
  >;
  return { functions, deployment };
}

export type Functions = ReturnType<typeof createFunctions>;

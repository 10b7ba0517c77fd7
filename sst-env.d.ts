/* Hand-written until the first `sst deploy` regenerates it (toolchain.md §2.7). */
/* The linked resources the functions read through `Resource` from "sst". */
/* Secrets are config-driven (`sst:Name` references): the usual names are declared here. */
import "sst";
declare module "sst" {
  export interface Resource {
    /** The deploy-time config and the stack's resources (packages/functions/src/config-delivery.ts). */
    KotsBackupDeployment: {
      type: "sst.sst.Linkable";
      config: Record<string, unknown>;
      bucket: string;
      prefix: string;
      busName: string;
    };
    ClusterCredentials: { type: "sst.sst.Secret"; value: string };
    PagerDutyRoutingKey: { type: "sst.sst.Secret"; value: string };
    SlackWebhookUrl: { type: "sst.sst.Secret"; value: string };
  }
}
export {};

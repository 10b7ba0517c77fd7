/// <reference path="./.sst/platform/config.d.ts" />

// kots-backup on AWS: one module per concern under infra/, chained here.
//   config     kots-backup.yaml (or env KOTS_BACKUP_CONFIG), validated by the same schema as the CLI
//   storage    the export bucket (versioning, SSE-KMS, lifecycle, TLS-only, optional Object Lock)
//   secrets    the sst.Secrets the config references (sst:Name)
//   alerting   event bus + notify subscription; SNS topic + CloudWatch alarms (the pipeline's backstop)
//   functions  scheduled, reconcile, onDemand, notify, each with its own least-privilege IAM
//   schedules  one EventBridge Scheduler schedule per configured schedule, and reconcile every 5 minutes
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
    const { loadDeploySettings } = await import("./infra/config.ts");
    // Fails the deploy, naming the file and the field, before any resource is planned.
    const settings = loadDeploySettings();

    const { createStorage } = await import("./infra/storage.ts");
    const { createSecrets } = await import("./infra/secrets.ts");
    const { createAlerting, wireAlerting } = await import("./infra/alerting.ts");
    const { createFunctions } = await import("./infra/functions.ts");
    const { createSchedules } = await import("./infra/schedules.ts");

    const storage = createStorage(settings);
    const secrets = createSecrets(settings.config);
    const alerting = createAlerting(settings);
    const { functions } = createFunctions({ settings, storage, alerting, secrets });
    wireAlerting({
      alerting,
      notifyArn: functions.notify.arn,
      functionNames: {
        scheduled: functions.scheduled.name,
        reconcile: functions.reconcile.name,
        onDemand: functions.onDemand.name,
        notify: functions.notify.name,
      },
    });
    const { schedules } = createSchedules({
      config: settings.config,
      scheduledArn: functions.scheduled.arn,
      reconcileArn: functions.reconcile.arn,
      onDemandArn: functions.onDemand.arn,
      deadLetterQueueArn: alerting.deadLetters.arn,
    });

    return {
      bucket: storage.bucket.name,
      prefix: storage.prefix,
      kmsKey: storage.key.arn,
      bus: alerting.bus.name,
      alarmTopic: alerting.topic.arn,
      deadLetterQueue: alerting.deadLetters.url,
      onDemandFunction: functions.onDemand.name,
      schedules: schedules.map((s) => s.nodes.schedule.name),
      secrets: [...secrets.secrets.keys()],
    };
  },
});

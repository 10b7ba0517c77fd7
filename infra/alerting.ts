// Alerting, in two layers:
// 1. Incidents: the functions put docs/contract.md §5 events on the stack's bus; `notify` (subscribed to the
//    paging detail types) delivers them to the configured channels, once per incident.
// 2. The pipeline's own backstop: CloudWatch alarms to an SNS topic (email subscriptions from config) when
//    kots-backup itself stops working: no Heartbeat from the verify runs (dead man's switch, missing data
//    is breaching), Lambda errors per function, messages in the dead-letter queue. These never duplicate a
//    page that `notify` sends: they fire when notify, reconcile or the scheduler are the thing that broke.
import { DetailType, EVENT_SOURCE, METRICS_NAMESPACE, SERVICE_NAME } from "../packages/core/src/events.ts";
import type { DeploySettings } from "./config.ts";
import { FUNCTION_NAMES, FUNCTION_SPECS, type FunctionName } from "./permissions.ts";

export const HEARTBEAT_METRIC = "Heartbeat";

/** The detail types `notify` delivers (docs/contract.md §5: the ones someone must act on). */
export const NOTIFY_DETAIL_TYPES = [
  DetailType.checkDown,
  DetailType.checkUp,
  DetailType.backupFailed,
  DetailType.exportFailed,
] as const;

/**
 * Dead man's switch: reconcile verifies every 5 minutes and emits Heartbeat=1 each time. Fewer than one
 * heartbeat in each of 3 consecutive 10-minute periods (30 minutes) alarms; no data at all is breaching.
 */
export const HEARTBEAT_ALARM = {
  periodSeconds: 600,
  evaluationPeriods: 3,
} as const;

/** Lambda errors: reconcile runs every 5 minutes, so one transient error is not worth an email. */
export const ERROR_ALARM: Readonly<
  Record<FunctionName, { evaluationPeriods: number; datapointsToAlarm: number }>
> = {
  scheduled: { evaluationPeriods: 1, datapointsToAlarm: 1 },
  reconcile: { evaluationPeriods: 3, datapointsToAlarm: 2 },
  onDemand: { evaluationPeriods: 1, datapointsToAlarm: 1 },
  notify: { evaluationPeriods: 1, datapointsToAlarm: 1 },
};

const FOURTEEN_DAYS = 14 * 24 * 3600;

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, "-");
}

export function createAlerting(settings: Pick<DeploySettings, "alarmEmails">) {
  const bus = new sst.aws.Bus("Events");
  const topic = new sst.aws.SnsTopic("Alarms");
  const emailSubscriptions = [...new Set(settings.alarmEmails)].map(
    (email) =>
      // SNS sends a confirmation mail; the address receives alarms only once it is confirmed.
      new aws.sns.TopicSubscription(`AlarmEmail-${safeName(email)}`, {
        topic: topic.arn,
        protocol: "email",
        endpoint: email,
      }),
  );
  // Failed scheduled and notify invocations (Scheduler and EventBridge target DLQ, Lambda async DLQ).
  const deadLetters = new aws.sqs.Queue("DeadLetters", {
    messageRetentionSeconds: FOURTEEN_DAYS,
    sqsManagedSseEnabled: true,
  });
  return { bus, topic, emailSubscriptions, deadLetters };
}

export type Alerting = ReturnType<typeof createAlerting>;

export interface WireAlertingArgs {
  alerting: Alerting;
  /** ARN of the notify function (a Function's `arn`, or a string under Pulumi mocks). */
  notifyArn: $util.Input<string>;
  /** Lambda function names, for the Errors alarms. */
  functionNames: Record<FunctionName, $util.Input<string>>;
}

/** The notify subscription and the backstop alarms. */
export function wireAlerting({ alerting, notifyArn, functionNames }: WireAlertingArgs) {
  const { bus, topic, deadLetters } = alerting;

  const subscription = bus.subscribe("Notify", notifyArn as string, {
    pattern: { source: [EVENT_SOURCE], detailType: [...NOTIFY_DETAIL_TYPES] },
    transform: {
      target: (args) => {
        // EventBridge → Lambda delivery failures (throttling, permissions) land in the DLQ after 24 h.
        args.retryPolicy = { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 };
        args.deadLetterConfig = { arn: deadLetters.arn };
      },
    },
  });
  const ruleArn = subscription.apply((s) => s.nodes.rule.arn);
  // The EventBridge rule's target DLQ needs a queue policy; Scheduler and Lambda use their roles.
  const deadLettersPolicy = new aws.sqs.QueuePolicy("DeadLettersPolicy", {
    queueUrl: deadLetters.url,
    policy: $resolve([deadLetters.arn, ruleArn]).apply(([queueArn, rule]) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "NotifyRuleDeadLetters",
            Effect: "Allow",
            Principal: { Service: "events.amazonaws.com" },
            Action: "sqs:SendMessage",
            Resource: queueArn,
            Condition: { ArnEquals: { "aws:SourceArn": rule } },
          },
        ],
      }),
    ),
  });

  const actions = { alarmActions: [topic.arn], okActions: [topic.arn] };

  const heartbeat = new aws.cloudwatch.MetricAlarm("HeartbeatAlarm", {
    alarmDescription:
      "kots-backup dead man's switch: no verify run reported a Heartbeat for 30 minutes (reconcile is not running or fails before verifying). Check the Reconcile function's logs and its schedule.",
    namespace: METRICS_NAMESPACE,
    metricName: HEARTBEAT_METRIC,
    dimensions: { service: SERVICE_NAME },
    statistic: "Sum",
    period: HEARTBEAT_ALARM.periodSeconds,
    evaluationPeriods: HEARTBEAT_ALARM.evaluationPeriods,
    datapointsToAlarm: HEARTBEAT_ALARM.evaluationPeriods,
    threshold: 1,
    comparisonOperator: "LessThanThreshold",
    treatMissingData: "breaching",
    ...actions,
  });

  const errors = Object.fromEntries(
    FUNCTION_NAMES.map((fn) => [
      fn,
      new aws.cloudwatch.MetricAlarm(`${FUNCTION_SPECS[fn].component}ErrorsAlarm`, {
        alarmDescription: `kots-backup: the ${fn} function failed (Lambda Errors). Check its CloudWatch logs.`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: functionNames[fn] },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: ERROR_ALARM[fn].evaluationPeriods,
        datapointsToAlarm: ERROR_ALARM[fn].datapointsToAlarm,
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        ...actions,
      }),
    ]),
  ) as Record<FunctionName, aws.cloudwatch.MetricAlarm>;

  const deadLetterDepth = new aws.cloudwatch.MetricAlarm("DeadLettersAlarm", {
    alarmDescription:
      "kots-backup: a scheduled backup or an alert could not be delivered (message in the dead-letter queue). Read the message, then purge it.",
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    dimensions: { QueueName: deadLetters.name },
    statistic: "Maximum",
    period: 300,
    evaluationPeriods: 1,
    threshold: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    treatMissingData: "notBreaching",
    ...actions,
  });

  return { subscription, deadLettersPolicy, alarms: { heartbeat, errors, deadLetterDepth } };
}

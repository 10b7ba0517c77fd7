// One EventBridge Scheduler schedule (`sst.aws.CronV2`) per configured schedule, plus reconcile's rate,
// plus, with `drill:` set, the restore drill's: `{"action":"drill"}` to onDemand on `drill.schedule`.
//
// The 5-field cron is converted by core's `toEventBridgeCron` (days of week 1–7, `?` in one day field);
// a cron EventBridge cannot express was already refused by the config schema, naming the schedule.
// The schedule's IANA time zone is passed through: EventBridge Scheduler evaluates the cron in that zone.
// DST rule (landscape.md "DST behaviour"): when clocks spring forward, a cron time inside the skipped
// hour does not fire at all that day; when clocks fall back, a cron time inside the repeated hour fires
// once, not twice. Freshness computes expected slots with the same rule (core/schedule.ts), so a skipped
// spring slot is not a missed backup.
//
// Scheduler invokes `scheduled` with only the `event` JSON (not the ScheduledEvent envelope), with its
// context placeholders substituted at invoke time; `scheduledTime` + `schedule` is the slot's dedup key.
import { toEventBridgeCron } from "../packages/core/src/eventbridge-cron.ts";
import type { DeploySettings } from "./config.ts";

export const SCHEDULER_PLACEHOLDERS = {
  scheduledTime: "<aws.scheduler.scheduled-time>",
  executionId: "<aws.scheduler.execution-id>",
} as const;

/** Scheduler retries delivery (throttling, Lambda unavailable) within the schedule's grace, then DLQs it. */
export const SCHEDULE_RETRIES = 10;
export const MIN_EVENT_AGE_SECONDS = 60;
export const MAX_EVENT_AGE_SECONDS = 86_400;

export const RECONCILE_RATE = "rate(5 minutes)";

export interface ScheduleSpec {
  /** The config schedule's name. */
  name: string;
  /** Pulumi/SST component name. */
  component: string;
  expression: `cron(${string})`;
  timezone: string;
  enabled: boolean;
  retries: number;
  /** Retrying after the grace period is useless: the slot is already reported as missed. */
  maximumEventAgeInSeconds: number;
  event: { schedule: string; scheduledTime: string; executionId: string };
}

function pascal(name: string): string {
  return name
    .split("-")
    .filter(Boolean)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

/** The schedules to create, as data. */
export function scheduleSpecs(config: DeploySettings["config"]): ScheduleSpec[] {
  const seen = new Map<string, string>();
  return config.schedules.map((schedule, index) => {
    const component = `Schedule${pascal(schedule.name)}`;
    const clash = seen.get(component.toLowerCase());
    if (clash !== undefined) {
      throw new Error(
        `kots-backup.yaml: schedules[${index}].name: "${schedule.name}" and "${clash}" map to the same AWS resource name; rename one`,
      );
    }
    seen.set(component.toLowerCase(), schedule.name);
    const graceSeconds = Math.floor(schedule.grace / 1000);
    return {
      name: schedule.name,
      component,
      expression: toEventBridgeCron(schedule.cron, `schedules[${index}].cron`) as `cron(${string})`,
      timezone: schedule.timezone,
      enabled: !schedule.paused,
      retries: SCHEDULE_RETRIES,
      maximumEventAgeInSeconds: Math.min(
        MAX_EVENT_AGE_SECONDS,
        Math.max(MIN_EVENT_AGE_SECONDS, graceSeconds),
      ),
      event: { schedule: schedule.name, ...SCHEDULER_PLACEHOLDERS },
    };
  });
}

/** The restore drill's schedule (`drill:`), as data; undefined without `drill:`. */
export interface DrillScheduleSpec {
  component: "DrillSchedule";
  expression: `cron(${string})`;
  timezone: string;
  enabled: boolean;
  retries: number;
  maximumEventAgeInSeconds: number;
  event: { action: "drill" };
}

export function drillScheduleSpec(config: DeploySettings["config"]): DrillScheduleSpec | undefined {
  const { drill } = config;
  if (!drill) return undefined;
  return {
    component: "DrillSchedule",
    expression: toEventBridgeCron(drill.schedule, "drill.schedule") as `cron(${string})`,
    timezone: drill.timezone,
    enabled: !drill.paused,
    retries: SCHEDULE_RETRIES,
    // As a schedule's: a drill delivered after its grace is already reported as drill-missed.
    maximumEventAgeInSeconds: Math.min(
      MAX_EVENT_AGE_SECONDS,
      Math.max(MIN_EVENT_AGE_SECONDS, Math.floor(drill.grace / 1000)),
    ),
    event: { action: "drill" },
  };
}

export interface CreateSchedulesArgs {
  config: DeploySettings["config"];
  /** ARN of the scheduled function (a Function's `arn`, or a string under Pulumi mocks). */
  scheduledArn: $util.Input<string>;
  reconcileArn: $util.Input<string>;
  /** ARN of the onDemand function: the drill schedule's target (only with `drill:`). */
  onDemandArn?: $util.Input<string>;
  deadLetterQueueArn: $util.Input<string>;
}

export function createSchedules({
  config,
  scheduledArn,
  reconcileArn,
  onDemandArn,
  deadLetterQueueArn,
}: CreateSchedulesArgs) {
  const schedules = scheduleSpecs(config).map(
    (spec) =>
      new sst.aws.CronV2(spec.component, {
        function: scheduledArn,
        schedule: spec.expression,
        timezone: spec.timezone,
        // Paused schedules exist, disabled: unpausing is a config change, not a new resource.
        enabled: spec.enabled,
        retries: spec.retries,
        dlq: deadLetterQueueArn,
        event: spec.event,
        transform: {
          schedule: (args) => {
            args.description = `kots-backup schedule ${spec.name}`;
            args.target = $output(args.target).apply((target) => ({
              ...target,
              retryPolicy: {
                ...target.retryPolicy,
                maximumEventAgeInSeconds: spec.maximumEventAgeInSeconds,
              },
            }));
          },
        },
      }),
  );

  // Reconcile: every 5 minutes; a missed run is simply the next one (no retries, no DLQ).
  const reconcile = new sst.aws.CronV2("ReconcileSchedule", {
    function: reconcileArn,
    schedule: RECONCILE_RATE,
    retries: 0,
    event: { scheduledTime: SCHEDULER_PLACEHOLDERS.scheduledTime },
  });

  const drillSpec = drillScheduleSpec(config);
  if (drillSpec && onDemandArn === undefined)
    throw new Error("kots-backup.yaml: drill: is set but the onDemand function's ARN was not passed");
  const drill =
    drillSpec &&
    new sst.aws.CronV2(drillSpec.component, {
      function: onDemandArn as $util.Input<string>,
      schedule: drillSpec.expression,
      timezone: drillSpec.timezone,
      enabled: drillSpec.enabled,
      retries: drillSpec.retries,
      dlq: deadLetterQueueArn,
      event: drillSpec.event,
      transform: {
        schedule: (args) => {
          args.description = "kots-backup restore drill";
          args.target = $output(args.target).apply((target) => ({
            ...target,
            retryPolicy: {
              ...target.retryPolicy,
              maximumEventAgeInSeconds: drillSpec.maximumEventAgeInSeconds,
            },
          }));
        },
      },
    });

  return { schedules, reconcile, ...(drill ? { drill } : {}) };
}

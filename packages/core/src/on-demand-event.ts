// The Lambda events of docs/contract.md §4, as one zod schema each, strict everywhere (an unknown key is an
// error). The functions validate events with `parseOnDemandEvent` / `parseScheduledEvent` before any side
// effect (packages/functions/src/lib/validation.ts): a rejection is an InputError naming the field.
import { z } from "zod";
import { formatPath } from "./config.ts";
import { InputError } from "./errors.ts";
import { checkLatestChoice, type KindFields } from "./usecases/reconcile.ts";

/** How an export event names the fields of `latest`'s kind. */
export const EVENT_KIND_FIELDS: KindFields = {
  latest: '"backup": "latest"',
  schedule: "schedule",
  type: "type",
  app: "app",
};

const slug = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, { message: "must be an app slug (kubectl kots get apps)" });

const backupName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, {
    message: 'must be a backup name (kots-backup ls) or "latest"',
  });

const wait = z
  .boolean()
  .optional()
  .meta({ description: "Follow the backup until its phase is terminal, within the function's time." });

const backupFull = z.strictObject({
  action: z.literal("backup"),
  type: z.literal("full"),
  wait,
});

const backupPartial = z.strictObject({
  action: z.literal("backup"),
  type: z.literal("partial"),
  app: slug,
  wait,
});

export const OnDemandEventSchema = z
  .discriminatedUnion("action", [
    z.discriminatedUnion("type", [backupFull, backupPartial]),
    z.strictObject({ action: z.literal("ls"), app: slug.optional() }),
    z
      .strictObject({
        action: z.literal("export"),
        backup: backupName,
        scope: z.enum(["auto", "full", "manifests"]).optional(),
        includePartiallyFailed: z.boolean().optional(),
        // With "latest": which backup is the newest (core's latestKindOf); full backups by default.
        schedule: z
          .string()
          .max(52)
          .regex(/^[a-z0-9-]+$/, { message: "must be a schedule's name (a-z, 0-9 and -)" })
          .optional()
          .meta({
            description: 'With "backup": "latest": the newest backup of this schedule\'s type and app.',
          }),
        type: z
          .enum(["full", "partial"])
          .optional()
          .meta({ description: 'With "backup": "latest": full (default) or partial (with "app").' }),
        app: slug.optional().meta({ description: 'With "backup": "latest" and "type": "partial": the app.' }),
      })
      .superRefine((event, ctx) => {
        // The schedule's existence is checked against the config when the export runs.
        try {
          checkLatestChoice({ ...event, latest: event.backup === "latest" }, EVENT_KIND_FIELDS);
        } catch (error) {
          const field = (error as { field?: string }).field ?? "backup";
          ctx.addIssue({
            code: "custom",
            path: [field],
            message: (error as Error).message.replace(`${field}: `, ""),
          });
        }
      }),
    z.strictObject({ action: z.literal("verify") }),
    z.strictObject({ action: z.literal("status") }),
    z.strictObject({ action: z.literal("config-download"), app: slug }),
    // The offline restore drill over the newest exports, recorded for the `drill` check (the drill
    // schedule sends this).
    z.strictObject({ action: z.literal("drill") }),
  ])
  .meta({ title: "kots-backup on-demand event (docs/contract.md §4)" });

export type OnDemandEvent = z.output<typeof OnDemandEventSchema>;
export type OnDemandAction = OnDemandEvent["action"];
export const ON_DEMAND_ACTIONS: readonly OnDemandAction[] = [
  "backup",
  "ls",
  "export",
  "verify",
  "status",
  "config-download",
  "drill",
];

/** EventBridge Scheduler's input to the `scheduled` function (docs/contract.md §4). */
export const ScheduledEventSchema = z
  .strictObject({
    schedule: z.string().min(1).meta({ description: "The kots-backup schedule's name." }),
    scheduledTime: z.iso
      .datetime({ offset: true })
      .meta({ description: "<aws.scheduler.scheduled-time>: the slot, RFC 3339." }),
    executionId: z.string().min(1).meta({ description: "<aws.scheduler.execution-id>." }),
  })
  .meta({ title: "kots-backup scheduled event (docs/contract.md §4)" });

export type ScheduledEvent = z.output<typeof ScheduledEventSchema>;

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function eventError(error: z.ZodError, input: unknown, kind: string, fix: string): InputError {
  const issue = error.issues[0];
  if (!issue) return new InputError("invalid-event", `${kind} event is invalid`, { fix });
  if (issue.code === "unrecognized_keys") {
    const field = formatPath([...issue.path, issue.keys[0] ?? ""]);
    return new InputError("invalid-event", `${field}: unknown key in the ${kind} event`, {
      field,
      fix: `remove it; ${fix}`,
    });
  }
  let path = issue.path;
  // A discriminated union names the discriminator it could not match.
  if (
    issue.code === "invalid_union" &&
    "discriminator" in issue &&
    typeof issue.discriminator === "string" &&
    issue.path.at(-1) !== issue.discriminator
  ) {
    path = [...issue.path, issue.discriminator];
  }
  const field = formatPath(path);
  const where = field === "" ? `${kind} event` : field;
  const missing = path.length > 0 && valueAt(input, path) === undefined;
  const problem =
    missing || (issue.code === "invalid_type" && issue.message.endsWith("received undefined"))
      ? "is required"
      : issue.code === "invalid_union" && field.endsWith("action")
        ? `must be one of ${ON_DEMAND_ACTIONS.join(", ")}`
        : issue.code === "invalid_union" && field.endsWith("type")
          ? "must be full or partial"
          : issue.message;
  return new InputError("invalid-event", `${where}: ${problem}`, { ...(field ? { field } : {}), fix });
}

const ON_DEMAND_FIX =
  'send e.g. {"action":"backup","type":"full"}, {"action":"ls"}, {"action":"export","backup":"latest"} (docs/contract.md §4)';

/** Validates an on-demand event; throws InputError `invalid-event` naming the first bad field. */
export function parseOnDemandEvent(input: unknown): OnDemandEvent {
  const result = OnDemandEventSchema.safeParse(input);
  if (result.success) return result.data;
  throw eventError(result.error, input, "on-demand", ON_DEMAND_FIX);
}

/** Validates a Scheduler event; throws InputError `invalid-event` naming the first bad field. */
export function parseScheduledEvent(input: unknown): ScheduledEvent {
  const result = ScheduledEventSchema.safeParse(input);
  if (result.success) return result.data;
  throw eventError(
    result.error,
    input,
    "scheduled",
    'the schedule\'s target input must be {"schedule":"<name>","scheduledTime":"<aws.scheduler.scheduled-time>","executionId":"<aws.scheduler.execution-id>"}',
  );
}

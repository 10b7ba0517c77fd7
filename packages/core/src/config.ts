// The config file (contract §3): one zod schema, strict everywhere (an unknown key is an error), from
// which the committed JSON Schema is generated. Durations are written as text and parsed to ms.
import { z } from "zod";
import { cronerFor, parseCron } from "./cron.ts";
import { DEFAULT_DESTINATION, parseDestination } from "./destination.ts";
import { tryParseDuration } from "./duration.ts";
import { InputError, isKotsBackupError } from "./errors.ts";
import { toEventBridgeCron } from "./eventbridge-cron.ts";
import { isSecretRef, SECRET_REF_HINT } from "./secret-ref.ts";
import { isValidTimeZone } from "./timezone.ts";

const secretRef = z
  .string()
  .refine(isSecretRef, { message: `must not be a plain value; ${SECRET_REF_HINT}` })
  .meta({ description: "Secret reference: env:NAME, file:/path, arn:aws:secretsmanager:… or sst:Name." });

/** A duration written `30s`, `15m`, `2h`, `7d` or `1h30m`, parsed to milliseconds. */
const duration = z
  .string()
  .meta({
    description: "Duration: 30s, 15m, 2h, 7d (or combined, e.g. 1h30m).",
    pattern: "^(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?$",
  })
  .superRefine((text, ctx) => {
    if (tryParseDuration(text) === undefined) {
      ctx.addIssue({ code: "custom", message: `"${text}" is not a duration; write e.g. 30s, 15m, 2h or 7d` });
    }
  })
  .transform((text) => tryParseDuration(text) ?? 0);

/** Strips the `field: ` prefix our own errors carry, since the issue path names the field already. */
function problemOf(error: unknown): string {
  if (!isKotsBackupError(error)) return String(error);
  const message = error.message.replace(/^[^:]+: /, "");
  return error.fix ? `${message}; ${error.fix}` : message;
}

const cron = z
  .string()
  .meta({
    description:
      "5-field cron (minute hour day-of-month month day-of-week), also expressible in EventBridge Scheduler.",
  })
  .superRefine((text, ctx) => {
    try {
      parseCron(text);
      toEventBridgeCron(text);
      if (!cronerFor(text, "UTC").nextRun())
        ctx.addIssue({ code: "custom", message: `"${text}" never fires` });
    } catch (error) {
      ctx.addIssue({ code: "custom", message: problemOf(error) });
    }
  });

const timezone = z
  .string()
  .refine(isValidTimeZone, {
    message: "is not an IANA time zone; write e.g. UTC, Europe/Paris or America/New_York",
  })
  .meta({ description: "IANA time zone the cron is read in." });

const s3Credentials = z
  .strictObject({ accessKeyId: secretRef, secretAccessKey: secretRef, sessionToken: secretRef.optional() })
  .meta({
    description: "Static S3 credentials as secret references; omit to use the default AWS credential chain.",
  });

export const ScheduleType = { full: "full", partial: "partial" } as const;
export type ScheduleType = (typeof ScheduleType)[keyof typeof ScheduleType];

export const ExportScope = {
  /** `full` when the source BSL can be read directly, else `manifests`. */
  auto: "auto",
  /** The BSL's `backups/<name>/` objects plus the file-system-backup repositories (kopia/restic). */
  full: "full",
  /** Backup metadata and the resource tarball only, from DownloadRequests; no volume data. */
  manifests: "manifests",
} as const;
export type ExportScope = (typeof ExportScope)[keyof typeof ExportScope];

const clusterSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .default("kots")
    .meta({ description: "Name used in dedup keys and alert messages." }),
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  kotsadmNamespace: z.string().min(1).optional(),
  veleroNamespace: z.string().min(1).optional(),
  insecureSkipTlsVerify: z.boolean().default(false),
  caFile: z.string().min(1).optional(),
  credentials: secretRef
    .optional()
    .meta({ description: "Secret holding JSON {server, caData, token} for reaching the cluster from AWS." }),
  eks: z.strictObject({ clusterName: z.string().min(1), region: z.string().min(1) }).optional(),
});

const scheduleSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9-]+$/, { message: "must use only a-z, 0-9 and -" })
      .max(52, { message: "must be at most 52 characters (it becomes part of AWS resource names)" }),
    cron,
    timezone: timezone.default("UTC"),
    type: z.enum(["full", "partial"]).default("full"),
    app: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "App slug; required for partial, forbidden for full." }),
    grace: duration.prefault("1h"),
    maxDuration: duration.prefault("4h"),
    export: z.boolean().default(true),
    exportGrace: duration.prefault("2h"),
    paused: z.boolean().default(false),
  })
  .superRefine((schedule, ctx) => {
    if (schedule.type === "partial" && schedule.app === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["app"],
        message: "is required when type is partial; set the app slug",
      });
    }
    if (schedule.type === "full" && schedule.app !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["app"],
        message: "is only allowed with type: partial; remove it",
      });
    }
  });

const destination = z
  .string()
  .meta({ description: "s3://bucket/prefix, file:///abs/path, or a path relative to the working directory." })
  .superRefine((text, ctx) => {
    const parsed = parseDestination(text);
    if ("problem" in parsed) ctx.addIssue({ code: "custom", message: parsed.problem });
  });

const exportSchema = z.strictObject({
  destination: destination.default(DEFAULT_DESTINATION),
  endpoint: z.url().optional().meta({ description: "S3-compatible endpoint URL of the destination." }),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  credentials: s3Credentials.optional(),
  bsl: z
    .strictObject({
      endpoint: z.url().optional(),
      region: z.string().min(1).optional(),
      credentials: s3Credentials.optional(),
    })
    .optional()
    .meta({ description: "Direct read access to the source BSL bucket, needed for the full scope." }),
  scope: z.enum(["auto", "full", "manifests"]).default("auto"),
  keepLast: z
    .number()
    .int()
    .min(1)
    .default(3)
    .meta({ description: "Newest verified exports that are never expirable." }),
  includePartiallyFailed: z.boolean().default(false),
  configApps: z
    .array(z.string().min(1))
    .optional()
    .meta({ description: "App slugs whose KOTS config is downloaded after each export." }),
  lifecycle: z
    .strictObject({
      tierAfter: duration
        .optional()
        .meta({ description: "Expirable exports move to GLACIER_IR after this (default 30d)." }),
      retention: duration
        .optional()
        .meta({ description: "Expirable exports are deleted after this (default 90d)." }),
      noncurrentVersions: duration
        .optional()
        .meta({ description: "Old object versions are kept this long (default 30d)." }),
    })
    .optional()
    .meta({
      description: "Lifecycle of the AWS export bucket (applied by `sst deploy`; checked by doctor).",
    }),
  objectLock: z
    .strictObject({ mode: z.enum(["GOVERNANCE", "COMPLIANCE"]), retention: duration })
    .optional()
    .meta({ description: "Object Lock default retention on the AWS export bucket (WORM copies)." }),
});

/** Header names whose values are credentials and so must be secret references. */
const SENSITIVE_HEADER = /authorization|token|secret|key|cookie|signature/i;

const webhookSchema = z
  .strictObject({ url: secretRef, headers: z.record(z.string(), z.string()).optional() })
  .superRefine((webhook, ctx) => {
    for (const [name, value] of Object.entries(webhook.headers ?? {})) {
      if (SENSITIVE_HEADER.test(name) && !isSecretRef(value)) {
        ctx.addIssue({
          code: "custom",
          path: ["headers", name],
          message: `carries a credential; ${SECRET_REF_HINT}`,
        });
      }
    }
  });

const alertsSchema = z.strictObject({
  eventBridge: z.strictObject({ busName: z.string().min(1) }).optional(),
  sns: z
    .strictObject({
      topicArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+$/, { message: "must be an SNS topic ARN" }),
    })
    .optional(),
  pagerDuty: z
    .strictObject({
      routingKey: secretRef,
      eventsUrl: z.url().optional().meta({
        description:
          "Events API v2 URL (default https://events.pagerduty.com/v2/enqueue; EU accounts use events.eu.pagerduty.com).",
      }),
    })
    .optional(),
  slack: z.strictObject({ webhookUrl: secretRef }).optional(),
  webhook: webhookSchema.optional(),
  email: z
    .array(z.email())
    .optional()
    .meta({ description: "Addresses subscribed to the AWS alarm topic (the pipeline's own backstop)." }),
});

const awsSchema = z.strictObject({
  vpc: z
    .strictObject({
      privateSubnets: z.array(z.string().min(1)).min(1),
      securityGroups: z.array(z.string().min(1)).min(1),
    })
    .optional()
    .meta({ description: "Subnets and security groups for functions that reach a private cluster API." }),
});

const daemonSchema = z.strictObject({
  verifyInterval: duration.prefault("1m"),
  heartbeatUrl: secretRef.optional(),
  metricsPort: z.number().int().min(1).max(65_535).optional(),
});

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    cluster: clusterSchema.prefault({}),
    schedules: z.array(scheduleSchema).default([]),
    export: exportSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    daemon: daemonSchema.prefault({}),
    aws: awsSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.schedules.forEach((schedule, index) => {
      const first = seen.get(schedule.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["schedules", index, "name"],
          message: `"${schedule.name}" is already used by schedules[${first}]; schedule names must be unique`,
        });
      } else seen.set(schedule.name, index);
    });
  })
  .meta({ title: "kots-backup configuration" });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type ScheduleConfig = Config["schedules"][number];
export type ExportConfig = Config["export"];
export type AlertsConfig = Config["alerts"];
export type ClusterConfig = Config["cluster"];
export type DaemonConfig = Config["daemon"];

/** `["schedules", 0, "cron"]` → `schedules[0].cron`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

function firstIssue(error: z.ZodError): { field: string; message: string; fix: string } {
  const issue = error.issues[0];
  if (!issue)
    return { field: "", message: "config is invalid", fix: "check the file against kots-backup.schema.json" };
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const field = formatPath([...issue.path, key]);
    return {
      field,
      message: `${field}: unknown key`,
      fix: "remove it or fix its spelling (see kots-backup.schema.json)",
    };
  }
  const field = formatPath(issue.path);
  const where = field === "" ? "config" : field;
  if (issue.code === "invalid_type" && issue.path.length === 0) {
    return {
      field,
      message: "config: must be a YAML or JSON object",
      fix: "write the config as key: value pairs",
    };
  }
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
    return { field, message: `${where}: is required`, fix: `add ${where} (see kots-backup.schema.json)` };
  }
  // Our own messages read "<problem>; <fix>": split them so that the fix lands in its own field.
  const [problem = issue.message, ...fixParts] = issue.message.split("; ");
  const fix = fixParts.length > 0 ? fixParts.join("; ") : `fix ${where} (see kots-backup.schema.json)`;
  return { field, message: `${where}: ${problem}`, fix };
}

/** Validates a parsed YAML/JSON document; throws InputError `invalid-config` naming the first bad field. */
export function parseConfig(input: unknown): Config {
  const result = ConfigSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const { field, message, fix } = firstIssue(result.error);
  throw new InputError("invalid-config", message, { field, fix, cause: result.error });
}

/** The JSON Schema of the config file, as committed at the repo root (`kots-backup.schema.json`). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return { $id: "https://github.com/kots-backup/kots-backup/kots-backup.schema.json", ...schema };
}

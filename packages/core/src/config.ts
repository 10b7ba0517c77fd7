// The config file (docs/contract.md §3): one zod schema, strict everywhere (an unknown key is an error), from
// which the committed JSON Schema is generated. Durations are written as text and parsed to ms.
import { z } from "zod";
import { cronerFor, parseCron } from "./cron.ts";
import { DEFAULT_DESTINATION, parseDestination } from "./destination.ts";
import { closestKey, knownKeysAt } from "./did-you-mean.ts";
import { checkDuration, DurationUnitMs, MAX_DURATION_MS, tryParseDuration } from "./duration.ts";
import { InputError, isKotsBackupError } from "./errors.ts";
import { toEventBridgeCron } from "./eventbridge-cron.ts";
import { isSecretRef, SECRET_REF_HINT } from "./secret-ref.ts";
import { escapeControl, hasControl, shortInput } from "./text.ts";
import { timeZoneProblem } from "./timezone.ts";

/**
 * A string of at most `max` characters and no control characters. The length is checked first and
 * stops the checks after it, so that a megabyte-long value is neither parsed further nor echoed.
 */
function text(max: number) {
  return z
    .string()
    .max(max, { message: `must be at most ${max} characters`, abort: true })
    .refine((value) => !hasControl(value), { message: "must not contain control characters" });
}

/** A DNS-1123 label: a Kubernetes namespace. */
const namespace = z
  .string()
  .max(63, { message: "must be at most 63 characters", abort: true })
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, {
    message: "must be a Kubernetes namespace (a-z, 0-9 and -, starting and ending with a letter or digit)",
  });

/** A KOTS app slug (`kubectl kots get apps`). */
export const appSlug = z
  .string()
  .min(1)
  .max(253, { message: "must be at most 253 characters", abort: true })
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, { message: "must be an app slug (kubectl kots get apps)" });

const secretRef = z
  .string()
  .max(2048, { message: "must be at most 2048 characters", abort: true })
  .refine(isSecretRef, { message: `must not be a plain value; ${SECRET_REF_HINT}` })
  .meta({ description: "Secret reference: env:NAME, file:/path, arn:aws:secretsmanager:… or sst:Name." });

/** Grace periods and intervals: more than a year is surely a mistake (and any deadline stays a valid Date). */
const MAX_PERIOD_MS = 366 * DurationUnitMs.d;

/** A duration written `30s`, `15m`, `2h`, `7d` or `1h30m` of at most `maxMs`, parsed to milliseconds. */
function duration(maxMs: number) {
  return z
    .string()
    .max(64, { message: "must be at most 64 characters", abort: true })
    .meta({
      description: `Duration: 30s, 15m, 2h, 7d (or combined, e.g. 1h30m), at most ${maxMs / DurationUnitMs.d}d.`,
      pattern: "^(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?$",
    })
    .superRefine((text, ctx) => {
      const checked = checkDuration(text, maxMs);
      if ("problem" in checked)
        ctx.addIssue({ code: "custom", message: `${checked.problem}; ${checked.fix}` });
    })
    .transform((text) => tryParseDuration(text) ?? 0);
}
const period = duration(MAX_PERIOD_MS);
/** Retention and tiering of exports, which can span years. */
const retention = duration(MAX_DURATION_MS);

/** Strips the `field: ` prefix our own errors carry, since the issue path names the field already. */
function problemOf(error: unknown): string {
  if (!isKotsBackupError(error)) return String(error);
  const message = error.message.replace(/^[^:]+: /, "");
  return error.fix ? `${message}; ${error.fix}` : message;
}

const cron = z
  .string()
  .max(200, { message: "must be at most 200 characters", abort: true })
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
  .max(64, { message: "must be at most 64 characters", abort: true })
  .superRefine((name, ctx) => {
    const wrong = timeZoneProblem(name);
    if (wrong) ctx.addIssue({ code: "custom", message: `${wrong.problem}; ${wrong.fix}` });
  })
  .meta({ description: "Canonical IANA time zone the cron is read in (UTC, Europe/Paris; not +05:30)." });

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
    .max(63, { message: "must be at most 63 characters", abort: true })
    .regex(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/, {
      message: "must use only letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
    })
    .default("kots")
    .meta({ description: "Name used in dedup keys and alert messages." }),
  kubeconfig: text(4096).min(1).optional(),
  context: text(253).min(1).optional(),
  kotsadmNamespace: namespace.optional(),
  veleroNamespace: namespace.optional(),
  insecureSkipTlsVerify: z.boolean().default(false),
  caFile: text(4096).min(1).optional(),
  credentials: secretRef
    .optional()
    .meta({ description: "Secret holding JSON {server, caData, token} for reaching the cluster from AWS." }),
  eks: z.strictObject({ clusterName: text(100).min(1), region: text(64).min(1) }).optional(),
});

const scheduleSchema = z
  .strictObject({
    name: z
      .string()
      .max(52, {
        message: "must be at most 52 characters (it becomes part of AWS resource names)",
        abort: true,
      })
      .regex(/^[a-z0-9-]+$/, { message: "must use only a-z, 0-9 and -" }),
    cron,
    timezone: timezone.default("UTC"),
    type: z.enum(["full", "partial"]).default("full"),
    app: appSlug.optional().meta({ description: "App slug; required for partial, forbidden for full." }),
    grace: period.prefault("1h"),
    maxDuration: period.prefault("4h"),
    export: z.boolean().default(true),
    exportGrace: period.prefault("2h"),
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
  .max(1024, { message: "must be at most 1024 characters", abort: true })
  .meta({ description: "s3://bucket/prefix, file:///abs/path, or a path relative to the working directory." })
  .superRefine((text, ctx) => {
    const parsed = parseDestination(text);
    if ("problem" in parsed) ctx.addIssue({ code: "custom", message: parsed.problem });
  });

const exportSchema = z.strictObject({
  destination: destination.default(DEFAULT_DESTINATION),
  endpoint: z.url().optional().meta({ description: "S3-compatible endpoint URL of the destination." }),
  region: text(64).min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  credentials: s3Credentials.optional(),
  bsl: z
    .strictObject({
      endpoint: z.url().optional(),
      region: text(64).min(1).optional(),
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
    .array(appSlug)
    .optional()
    .meta({ description: "App slugs whose KOTS config is downloaded after each export." }),
  lifecycle: z
    .strictObject({
      tierAfter: retention
        .optional()
        .meta({ description: "Expirable exports move to GLACIER_IR after this (default 30d)." }),
      retention: retention
        .optional()
        .meta({ description: "Expirable exports are deleted after this (default 90d)." }),
      noncurrentVersions: retention
        .optional()
        .meta({ description: "Old object versions are kept this long (default 30d)." }),
    })
    .optional()
    .meta({
      description: "Lifecycle of the AWS export bucket (applied by `sst deploy`; checked by doctor).",
    }),
  objectLock: z
    .strictObject({ mode: z.enum(["GOVERNANCE", "COMPLIANCE"]), retention })
    .optional()
    .meta({ description: "Object Lock default retention on the AWS export bucket (WORM copies)." }),
});

/** Header names whose values are credentials and so must be secret references. */
const SENSITIVE_HEADER = /authorization|token|secret|key|cookie|signature/i;

/** An HTTP header name (RFC 9110 token). */
const headerName = z
  .string()
  .max(256, { message: "must be at most 256 characters", abort: true })
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "must be an HTTP header name (letters, digits, -)" });

/** An HTTP header value: a CR or LF in one would split the request and add headers of its own. */
const headerValue = z
  .string()
  .max(4096, { message: "must be at most 4096 characters", abort: true })
  .refine((value) => !hasControl(value.replaceAll("\t", " ")), {
    message: "must not contain line breaks or other control characters",
  });

const webhookSchema = z
  .strictObject({ url: secretRef, headers: z.record(headerName, headerValue).optional() })
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
  eventBridge: z.strictObject({ busName: text(256).min(1) }).optional(),
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
      privateSubnets: z.array(text(256).min(1)).min(1),
      securityGroups: z.array(text(256).min(1)).min(1),
    })
    .optional()
    .meta({ description: "Subnets and security groups for functions that reach a private cluster API." }),
});

// ── External recovery points ───────────────────────────────────────────────────────────────────────
// What a KOTS snapshot does not hold (an external database, object storage, a registry), watched next to
// the schedules: each is a check with the same states, reasons and paging (core/external.ts).

export const ExternalKind = { rds: "rds", awsBackup: "aws-backup", s3: "s3", command: "command" } as const;
export type ExternalKind = (typeof ExternalKind)[keyof typeof ExternalKind];

/** A check name: DNS-like, short enough for a dedup key and a state key. */
const externalName = z
  .string()
  .max(52, { message: "must be at most 52 characters", abort: true })
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, {
    message: "must use only a-z, 0-9 and -, starting and ending with a letter or digit",
  });

/** The newest recovery point must be younger than this; one day at least is typical. */
const recoveryPeriod = period.refine((ms) => ms > 0, { message: "must be longer than 0s" });

/** Where an AWS API is reached: the default chain's region unless set; an endpoint for S3-compatible or test peers. */
const awsApi = {
  region: text(64)
    .min(1)
    .optional()
    .meta({ description: "AWS region of the resource (default: the SDK's)." }),
  endpoint: z.url().optional().meta({ description: "API endpoint URL (tests, S3-compatible stores)." }),
};

const externalCommon = {
  name: externalName.meta({ description: "Check name: dedup key kots-backup:<cluster>:external:<name>." }),
  app: appSlug.meta({ description: "App slug the data belongs to (recoverability is shown per app)." }),
  period: recoveryPeriod.meta({ description: "The newest recovery point must be at most this old." }),
  grace: period.prefault("1h"),
  paused: z.boolean().default(false),
};

/** An AWS resource name or id as the API takes it: printable, no spaces. */
const awsId = z
  .string()
  .max(255, { message: "must be at most 255 characters", abort: true })
  .regex(/^[A-Za-z0-9][A-Za-z0-9:._/-]*$/, { message: "must be an identifier (letters, digits, - _ . : /)" });

const externalRds = z
  .strictObject({
    kind: z.literal("rds"),
    ...externalCommon,
    instance: awsId.optional().meta({ description: "RDS DB instance identifier." }),
    cluster: awsId.optional().meta({ description: "Aurora DB cluster identifier." }),
    requireEncryption: z
      .boolean()
      .default(true)
      .meta({ description: "An unencrypted newest snapshot is down with `unencrypted`." }),
    ...awsApi,
  })
  .superRefine((point, ctx) => {
    if ((point.instance === undefined) === (point.cluster === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["instance"],
        message: "set exactly one of instance (an RDS instance) or cluster (an Aurora cluster)",
      });
  });

const externalAwsBackup = z.strictObject({
  kind: z.literal("aws-backup"),
  ...externalCommon,
  resourceArn: z
    .string()
    .max(1600, { message: "must be at most 1600 characters", abort: true })
    .regex(/^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+$/, {
      message: "must be the ARN of the resource AWS Backup protects",
    }),
  vault: text(50).min(2).optional().meta({ description: "Only recovery points in this backup vault count." }),
  ...awsApi,
});

/** An S3 bucket name (the rules S3 enforces for new buckets). */
const bucketName = z
  .string()
  .max(63, { message: "must be at most 63 characters", abort: true })
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "must be an S3 bucket name" });

const externalS3 = z.strictObject({
  kind: z.literal("s3"),
  ...externalCommon,
  bucket: bucketName,
  forcePathStyle: z.boolean().optional(),
  replica: z
    .strictObject({
      bucket: bucketName,
      prefix: text(1024)
        .optional()
        .meta({ description: "Folder the app writes often (bounds the listing)." }),
      ...awsApi,
    })
    .optional()
    .meta({
      description:
        "A replica (or copy) bucket: its newest object under prefix must be within the period. Without it, an enabled replication rule is required.",
    }),
  ...awsApi,
});

/** A command's timeout: a probe that hangs must not hold verify up. */
const MAX_COMMAND_TIMEOUT_MS = 10 * DurationUnitMs.m;

const externalCommand = z.strictObject({
  kind: z.literal("command"),
  ...externalCommon,
  command: z.array(text(4096).min(1)).min(1).max(64).meta({
    description:
      "Executable and arguments (no shell): it exits 0 and prints the ISO time of the newest recovery point. Daemon and CLI only.",
  }),
  timeout: duration(MAX_COMMAND_TIMEOUT_MS).prefault("30s"),
});

const externalSchema = z.discriminatedUnion("kind", [
  externalRds,
  externalAwsBackup,
  externalS3,
  externalCommand,
]);

/** Where the daemon's metrics server listens unless configured: this machine only. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/** True for an address the metrics server can bind: an IPv4 or IPv6 address, or a host name. */
export function isListenHost(host: string): boolean {
  return (
    host.length <= 253 && /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/.test(host)
  );
}

const daemonSchema = z.strictObject({
  verifyInterval: period.prefault("1m"),
  heartbeatUrl: secretRef.optional(),
  metricsPort: z.number().int().min(1).max(65_535).optional(),
  metricsHost: z
    .string()
    .refine(isListenHost, { message: "must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0" })
    .default(DEFAULT_METRICS_HOST)
    .meta({
      description:
        "Address the metrics server binds: loopback by default; 0.0.0.0 (all interfaces) for a scraper or probe elsewhere.",
    }),
});

/** Most a live drill waits for the DR Velero's sync or for its Restore: past a day, something is stuck. */
const MAX_DRILL_WAIT_MS = DurationUnitMs.d;

// The live drill's DR cluster: where each drilled export is restored for real, into scratch namespaces
// (packages/adapters/src/drill/live.ts). Reached the ways `cluster` is (the same fields and connection
// code), but exactly one must be written: never found by default (no KUBECONFIG, no ~/.kube/config), so
// that a drill cannot restore into the production cluster by accident.
const drillClusterSchema = z
  .strictObject({
    kubeconfig: text(4096)
      .min(1)
      .optional()
      .meta({ description: "Kubeconfig file of the DR cluster (an identity bound by deploy/dr-rbac.yaml)." }),
    context: text(253)
      .min(1)
      .optional()
      .meta({ description: "Context in that kubeconfig (default: its current context)." }),
    credentials: clusterSchema.shape.credentials.meta({
      description:
        "Secret holding JSON {server, caData, token} of the DR cluster (its token: an identity bound by deploy/dr-rbac.yaml); the way in from AWS.",
    }),
    eks: clusterSchema.shape.eks.meta({
      description:
        "Sign EKS tokens with the caller's AWS identity instead of a token; server and caData still come from drill.cluster.credentials.",
    }),
    caFile: clusterSchema.shape.caFile.meta({
      description: "PEM file of the DR cluster's CA; replaces the kubeconfig's or the secret's caData.",
    }),
    insecureSkipTlsVerify: z.boolean().default(false).meta({
      description:
        "Skip TLS verification of the DR cluster's API (warned about). A kubeconfig's insecure-skip-tls-verify alone is refused.",
    }),
    veleroNamespace: namespace
      .default("velero")
      .meta({ description: "Namespace of the DR cluster's Velero, whose ReadOnly BSL reads the export." }),
    namespacePrefix: z
      .string()
      .max(40, { message: "must be at most 40 characters", abort: true })
      .regex(/^[a-z0-9][a-z0-9-]*$/, {
        message:
          "must be the start of a Kubernetes namespace (a-z, 0-9 and -, starting with a letter or digit)",
      })
      .default("kb-drill-")
      .meta({
        description:
          "Prefix of the scratch namespaces each backup namespace is restored into (then deleted); a short random suffix follows.",
      }),
    syncTimeout: duration(MAX_DRILL_WAIT_MS).prefault("5m").meta({
      description: "How long to wait for the DR Velero to list the backup (its BSL sync runs each minute).",
    }),
    restoreTimeout: duration(MAX_DRILL_WAIT_MS)
      .prefault("30m")
      .meta({ description: "How long the Restore may take to reach a terminal phase." }),
  })
  .superRefine((cluster, ctx) => {
    const file = cluster.kubeconfig !== undefined;
    const secret = cluster.credentials !== undefined || cluster.eks !== undefined;
    if (file === secret)
      ctx.addIssue({
        code: "custom",
        path: [],
        message:
          "set exactly one of kubeconfig, credentials or eks; kubeconfig (a file, with context) for the CLI and daemon, credentials (a secret holding JSON {server, caData, token}) or eks with credentials (holding {server, caData}) from AWS",
      });
    else if (cluster.eks !== undefined && cluster.credentials === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["credentials"],
        message:
          "is required with eks (it holds the EKS cluster's server and caData); set it to a secret holding JSON {server, caData}",
      });
    if (cluster.context !== undefined && !file)
      ctx.addIssue({
        code: "custom",
        path: ["context"],
        message: "only goes with kubeconfig; remove it",
      });
  });

// The restore drill on a schedule (`kots-backup drill`): each run is recorded under state/drills/ and
// watched by the `drill` check (core/drill.ts), paged under kots-backup:<cluster>:drill.
const drillSchema = z.strictObject({
  schedule: cron.meta({ description: "When the drill runs (5-field cron)." }),
  timezone: timezone.default("UTC").meta({ description: "IANA time zone of the schedule." }),
  grace: period.prefault("1h").meta({ description: "How late a drill run may be before the check pages." }),
  paused: z
    .boolean()
    .default(false)
    .meta({ description: "Nothing runs on schedule; the check is shown as paused, never down." }),
  cluster: drillClusterSchema.optional().meta({
    description:
      "Live drill: restore each drilled export in this DR cluster (into scratch namespaces, then deleted) and record the restore time. Without it the drill is offline only.",
  }),
});

export /** Each item's `name` must be unique in its list (`field`): the check, record and dedup key derive from it. */
function uniqueNames(items: readonly { name: string }[], field: string, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const first = seen.get(item.name);
    if (first === undefined) seen.set(item.name, index);
    else
      ctx.addIssue({
        code: "custom",
        path: [field, index, "name"],
        message: `"${item.name}" is already used by ${field}[${first}]; ${field === "schedules" ? "schedule" : field} names must be unique`,
      });
  });
}

const ConfigSchema = z
  .strictObject({
    $schema: text(2048).optional(),
    cluster: clusterSchema.prefault({}),
    schedules: z.array(scheduleSchema).default([]),
    export: exportSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    daemon: daemonSchema.prefault({}),
    aws: awsSchema.optional(),
    external: z.array(externalSchema).default([]),
    drill: drillSchema.optional(),
  })
  .superRefine((config, ctx) => {
    uniqueNames(config.schedules, "schedules", ctx);
    uniqueNames(config.external, "external", ctx);
    // The drill's check record and dedup key are a schedule's would-be ones (`drill`).
    const clash = config.drill ? config.schedules.findIndex((s) => s.name === "drill") : -1;
    if (clash >= 0)
      ctx.addIssue({
        code: "custom",
        path: ["schedules", clash, "name"],
        message: '"drill" is the drill check\'s name while drill: is set; rename the schedule',
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
export type ExternalPointConfig = Config["external"][number];
export type DrillConfig = NonNullable<Config["drill"]>;
export type DrillClusterConfig = NonNullable<DrillConfig["cluster"]>;

/** `["schedules", 0, "cron"]` → `schedules[0].cron`. Keys are input too: escaped and cut if long. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? shortInput(String(part)) : `.${shortInput(String(part))}`;
  }
  return out;
}

function firstIssue(error: z.ZodError, input: unknown): { field: string; message: string; fix: string } {
  const issue = error.issues[0];
  if (!issue)
    return { field: "", message: "config is invalid", fix: "check the file against kots-backup.schema.json" };
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const field = formatPath([...issue.path, key]);
    const meant = closestKey(key, knownKeysAt(ConfigSchema, input, issue.path));
    return {
      field,
      message: `${field}: unknown key`,
      fix: `${meant ? `did you mean ${meant}?` : "remove it or fix its spelling"} (see kots-backup.schema.json)`,
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
  const { field, message, fix } = firstIssue(result.error, input);
  // Messages may quote the bad value: never let one carry control characters to a terminal or a log.
  throw new InputError("invalid-config", escapeControl(message), {
    field,
    fix: escapeControl(fix),
    cause: result.error,
  });
}

/** The JSON Schema of the config file, as committed at the repo root (`kots-backup.schema.json`). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return { $id: "https://github.com/kots-backup/kots-backup/kots-backup.schema.json", ...schema };
}

// External recovery points in `verify` and `status`: observed once per run next to the cluster, evaluated
// with their check record (external.ts), and alerted by verify.ts's one outbox, one page per incident,
// under the dedup key `kots-backup:<cluster>:external:<name>`.
import type { CheckWords } from "../alert-state.ts";
import type { ExternalPointConfig } from "../config.ts";
import { isKotsBackupError } from "../errors.ts";
import {
  type ExternalCheckResult,
  type ExternalObservation,
  evaluateExternal,
  externalCheckName,
  externalDownMessage,
  externalUpMessage,
} from "../external.ts";
import type { CheckState } from "../freshness.ts";
import type { UseCaseLog } from "./ports.ts";
import type { CheckRecord } from "./verify-state.ts";

/** One look at a point's source. A throw counts as an unreachable source. */
export type ExternalObserver = (point: ExternalPointConfig, now: Date) => Promise<ExternalObservation>;

/** The configured points and how to look at them (adapters/src/external). */
export interface ExternalSource {
  points: readonly ExternalPointConfig[];
  observe: ExternalObserver;
}

/** What one run found about one point. */
export interface ExternalFact {
  point: ExternalPointConfig;
  observation: ExternalObservation;
}

/** Sources looked at at once: each is one or a few API calls, or one short-lived process. */
const OBSERVE_CONCURRENCY = 4;

function reasonOf(error: unknown): string {
  if (isKotsBackupError(error)) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Observes every point; never throws (a failed look is an unreachable source, logged). */
export async function observeExternal(
  source: ExternalSource | undefined,
  now: Date,
  log: UseCaseLog,
): Promise<ExternalFact[]> {
  const points = source?.points ?? [];
  const facts: ExternalFact[] = new Array(points.length);
  let next = 0;
  const worker = async () => {
    while (next < points.length) {
      const i = next++;
      const point = points[i] as ExternalPointConfig;
      let observation: ExternalObservation;
      try {
        observation = await (source as ExternalSource).observe(point, now);
      } catch (error) {
        observation = { reachable: false, detail: reasonOf(error) };
      }
      if (!observation.reachable)
        log("warn", `external recovery point ${point.name} could not be read`, {
          reason: observation.detail,
        });
      facts[i] = { point, observation };
    }
  };
  await Promise.all(Array.from({ length: Math.min(OBSERVE_CONCURRENCY, points.length) }, worker));
  return facts;
}

/** One point's check at `now`, given its persisted record (pure), and what the record keeps. */
export function evaluateExternalWithRecord(
  fact: ExternalFact,
  now: Date,
  previous: CheckRecord | undefined,
): { check: ExternalCheckResult; environment: Pick<CheckRecord, "firstSeenAt" | "unreachableSince"> } {
  const nowIso = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const environment: Pick<CheckRecord, "firstSeenAt" | "unreachableSince"> = {
    firstSeenAt: previous?.firstSeenAt ?? nowIso,
    ...(fact.observation.reachable ? {} : { unreachableSince: previous?.unreachableSince ?? nowIso }),
  };
  const check = evaluateExternal(fact.point, fact.observation, now, environment);
  return { check, environment };
}

/** The check records `status` reads: one per point. */
export function externalCheckNames(points: readonly Pick<ExternalPointConfig, "name">[]): string[] {
  return points.map((p) => externalCheckName(p.name));
}

/** How an external point's Check Down / Check Up speak, and what their detail adds. */
export function externalWords(cluster: string, check: ExternalCheckResult): CheckWords {
  return {
    down: (since) => externalDownMessage(cluster, check, since),
    up: (downSince) => externalUpMessage(cluster, check, downSince),
    detail: { external: check.external },
  };
}

/** The figures the metrics publish for an external point (under its check name). */
export function externalFigures(
  check: ExternalCheckResult,
  now: Date,
): { schedule: string; state: CheckState; secondsSinceLastSuccess?: number } {
  const newest = Date.parse(check.lastSuccessAt ?? "");
  return {
    schedule: check.name,
    state: check.state,
    ...(Number.isNaN(newest)
      ? {}
      : { secondsSinceLastSuccess: Math.max(0, Math.round((now.getTime() - newest) / 1000)) }),
  };
}

// What every external source adapter shares: picking the newest credible recovery point from what a
// source lists (untrusted: its times are clamped like the cluster's, core's latestCredibleMs), and
// describing a failed call without the service's own words (an error body can echo the request).
import { latestCredibleMs } from "@kots-backup/core/backups";
import type { ExternalObservation } from "@kots-backup/core/external";
import { escapeControl, shortInput } from "@kots-backup/core/text";
import { NETWORK_FAILURE_CODES } from "../retry.ts";

/** One recovery point as a source lists it, normalized. */
export interface Candidate {
  /** ms; NaN when the source gave no usable time. */
  at: number;
  id: string;
  /** A usable recovery point (available, COMPLETED, an object). */
  good: boolean;
  /** An attempt that ended badly (a failed snapshot, a PARTIAL recovery point). */
  failed?: boolean;
  encrypted?: boolean;
}

/** A time from a source: a Date or text, as ms (NaN when it is neither). */
export function timeOf(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "string" && value.length <= 64) return Date.parse(value);
  return Number.NaN;
}

/** Text a source supplied, made safe for one log or status line. */
export function shown(text: string): string {
  return shortInput(escapeControl(text));
}

/**
 * The observation of a listing: the newest good point not dated beyond now + the clock-skew allowance,
 * whether a newer attempt failed, and whether a point was dated in the future (it counts for nothing).
 */
export function observe(candidates: readonly Candidate[], now: Date, what: string): ExternalObservation {
  const latest = latestCredibleMs(now);
  const dated = candidates.filter((c) => !Number.isNaN(c.at));
  const credible = dated.filter((c) => c.at <= latest);
  const futureDated = dated.some((c) => c.at > latest && (c.good || c.failed));
  const newest = credible.filter((c) => c.good).sort((a, b) => b.at - a.at)[0];
  const failed = credible.some((c) => c.failed && (newest === undefined || c.at > newest.at));
  const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    reachable: true,
    ...(newest ? { newestAt: iso(newest.at), newestId: shown(newest.id) } : {}),
    ...(newest?.encrypted !== undefined ? { encrypted: newest.encrypted } : {}),
    ...(failed ? { failed: true } : {}),
    ...(futureDated ? { futureDated: true } : {}),
    detail: newest
      ? `newest ${what} ${shown(newest.id)} at ${iso(newest.at)}${failed ? "; a newer one failed" : ""}`
      : `no ${what} found${failed ? "; the latest attempt failed" : ""}`,
  };
}

/** An AWS call that failed, as one line: the call, the error's name and HTTP status, never its message. */
export function awsFailure(call: string, error: unknown): ExternalObservation {
  const e = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } } | undefined;
  const code = typeof e?.code === "string" && NETWORK_FAILURE_CODES.has(e.code) ? e.code : undefined;
  const name = code ?? (typeof e?.name === "string" ? shown(e.name) : "Error");
  const status =
    typeof e?.$metadata?.httpStatusCode === "number" ? `, HTTP ${e.$metadata.httpStatusCode}` : "";
  const denied = /AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(name) || status === ", HTTP 403";
  return {
    reachable: false,
    detail: `${call} failed (${name}${status})${denied ? ": the role lacks the read action (see kots-backup doctor)" : ""}`,
  };
}

/** AWS client settings of a point: its region and endpoint when set (tests add credentials). */
export interface AwsClientSettings {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts?: number;
}

/** Settings for a point's client: its own region and endpoint over the defaults given. */
export function clientSettings(
  point: { region?: string | undefined; endpoint?: string | undefined },
  defaults: AwsClientSettings = {},
): AwsClientSettings {
  return {
    ...defaults,
    ...(point.region ? { region: point.region } : {}),
    ...(point.endpoint ? { endpoint: point.endpoint } : {}),
  };
}

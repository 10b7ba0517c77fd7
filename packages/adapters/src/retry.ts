// Retry with capped exponential backoff and full jitter, for every adapter that talks to something
// that can be briefly unavailable (Kubernetes API, kotsadm, S3, alert channels).
//
// Policy (DEFAULT_RETRY_POLICY): at most 5 attempts; before retry n (n = 1, 2, …) the delay is
//   random(0, min(maxDelayMs, baseDelayMs * 2^(n-1)))          ("full jitter", AWS architecture blog)
// i.e. up to 250 ms, 500 ms, 1 s, 2 s with the defaults, capped at 8 s. A server's `Retry-After`
// (seconds or an HTTP date) replaces the computed delay, bounded by maxRetryAfterMs (30 s); a longer
// Retry-After ends the retries, since waiting that long belongs to the caller, not to a transient fault.
// What is retryable is the caller's decision (`classify`): an adapter knows which calls are idempotent.

export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  maxAttempts: number;
  /** Upper bound of the first retry's delay. */
  baseDelayMs: number;
  /** Cap on the exponential bound. */
  maxDelayMs: number;
  /** The longest Retry-After honoured; a longer one stops retrying. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
});

/** What `classify` says about a failure: give up, or retry (optionally after the server's delay). */
export type RetryDecision = { retry: false } | { retry: true; retryAfterMs?: number; reason?: string };

export interface RetryInfo {
  /** The attempt that just failed, 1-based. */
  attempt: number;
  delayMs: number;
  error: unknown;
  reason?: string;
}

export interface RetryOptions {
  classify: (error: unknown) => RetryDecision;
  policy?: Partial<RetryPolicy>;
  /** Injectable for tests: default waits on a timer (and stops early when `signal` aborts). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injectable for tests: default Math.random. */
  random?: () => number;
  onRetry?: (info: RetryInfo) => void;
  signal?: AbortSignal;
}

/** The delay before retry number `retry` (1-based) under full jitter. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * bound);
}

/** Parses a Retry-After header (delta-seconds or HTTP date) to ms from `nowMs`; undefined when absent or bad. */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn` until it succeeds, `classify` says stop, or the attempts run out; rethrows the last error. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.maxAttempts || options.signal?.aborted) throw error;
      const decision = options.classify(error);
      if (!decision.retry) throw error;
      let delayMs = backoffDelay(attempt, policy, random);
      if (decision.retryAfterMs !== undefined) {
        if (decision.retryAfterMs > policy.maxRetryAfterMs) throw error;
        delayMs = decision.retryAfterMs;
      }
      options.onRetry?.({
        attempt,
        delayMs,
        error,
        ...(decision.reason === undefined ? {} : { reason: decision.reason }),
      });
      await wait(delayMs, options.signal);
    }
  }
}

/** Node/undici error codes of a connection that broke or could not be made (worth another try). */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** Node/undici error codes of a peer that could not be reached or answer at all, transient or not. */
export const NETWORK_FAILURE_CODES: ReadonlySet<string> = new Set([...TRANSIENT_NETWORK_CODES, "ENOTFOUND"]);

/** The network error code of an error or of anything in its `cause` chain (undici nests them). */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The error's network code when it is one worth another try (see TRANSIENT_NETWORK_CODES). */
export function transientNetworkCode(error: unknown): string | undefined {
  const code = networkErrorCode(error);
  return code !== undefined && TRANSIENT_NETWORK_CODES.has(code) ? code : undefined;
}

/** Whether an HTTP status is worth retrying for an idempotent call: 429 and 5xx (not 501). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

// One JSON POST for the HTTP channels (PagerDuty, Slack, webhook). It makes a single attempt (the
// retries live in deliver()) and turns every failure into a DeliveryError that names the channel.
// The URL is a secret (webhook URLs carry their token), so it never reaches a message or a cause:
// fetch's own errors ("Failed to parse URL from https://…") are replaced, not wrapped.

import { parseRetryAfter, transientNetworkCode } from "../retry.ts";
import { redact, Secret } from "../secrets/secret.ts";
import { DeliveryError, DeliveryFailure } from "./errors.ts";

export interface PostJsonOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Secret values to scrub from any response text quoted in an error. */
  secrets?: ReadonlyArray<Secret | string>;
  /** Clock for HTTP-date Retry-After values (default `Date.now`). */
  now?: () => number;
}

export interface PostJsonResult {
  status: number;
  text: string;
}

/** Longest slice of a peer's error body quoted in a message. */
const BODY_QUOTE_CHARS = 300;

export async function postJson(
  channel: string,
  url: Secret | string,
  body: unknown,
  options: PostJsonOptions = {},
): Promise<PostJsonResult> {
  const target = typeof url === "string" ? url : url.reveal();
  const secrets = [...(options.secrets ?? []), ...(url instanceof Secret ? [url] : [])];
  let response: Response;
  try {
    response = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json", ...options.headers },
      body: JSON.stringify(body),
      redirect: "error",
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) {
      throw new DeliveryError(channel, "request aborted (timed out)", {
        retryable: true,
        failure: DeliveryFailure.timeout,
      });
    }
    const code = transientNetworkCode(error);
    if (code) {
      throw new DeliveryError(channel, `connection error (${code})`, {
        retryable: true,
        failure: DeliveryFailure.connection,
      });
    }
    // Not a network error: a bad URL, a redirect, or a bug. Retrying will not help.
    throw new DeliveryError(channel, "request could not be sent (invalid URL or redirect refused)", {
      retryable: false,
      failure: DeliveryFailure.notSent,
    });
  }
  let text = "";
  try {
    text = await response.text();
  } catch {
    const status = response.status;
    if (options.signal?.aborted) {
      throw new DeliveryError(channel, "response aborted (timed out)", {
        retryable: true,
        failure: DeliveryFailure.timeout,
        status,
      });
    }
    throw new DeliveryError(channel, `HTTP ${status}, response body lost`, {
      retryable: true,
      failure: DeliveryFailure.connection,
      status,
    });
  }
  if (response.ok) return { status: response.status, text };

  const status = response.status;
  const retryable = status === 429 || status === 408 || status >= 500;
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), (options.now ?? Date.now)());
  // Redact the whole body first: cut first, a secret across the cut would keep its first characters.
  const quoted = redact(text, secrets).slice(0, BODY_QUOTE_CHARS).replace(/\s+/g, " ").trim();
  throw new DeliveryError(channel, `HTTP ${status}${quoted ? `: ${quoted}` : ""}`, {
    retryable,
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

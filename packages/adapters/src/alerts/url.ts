import { InputError } from "@kots-backup/core";
import type { Secret } from "../secrets/secret.ts";

/** Checks that a secret URL is http(s) without ever putting it in the error. */
export function assertHttpUrl(channel: string, url: Secret): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(url.reveal()).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "https:" && protocol !== "http:") {
    throw new InputError(
      "alert-channel-invalid",
      `${channel}: the URL from ${url.source} is not an http(s) URL`,
      {
        fix: `store the full https://… URL in ${url.source}`,
      },
    );
  }
}

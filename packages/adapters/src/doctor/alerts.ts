// `doctor`'s alert-channel check, as a dry run: the channels are built from the config and their
// secret references resolved, but nothing is sent.
import { isKotsBackupError } from "@kots-backup/core";
import { type AlertsConfigFragment, channelsFromConfig } from "../alerts/from-config.ts";
import { resolveSecret } from "../secrets/resolve.ts";
import type { DoctorCheck } from "./types.ts";

function failed(name: string, error: unknown, fix: string): DoctorCheck {
  return {
    name,
    ok: false,
    detail: error instanceof Error ? error.message : String(error),
    fix: isKotsBackupError(error) && error.fix ? error.fix : fix,
  };
}

export async function alertChecks(
  alerts: AlertsConfigFragment | undefined,
  options: { env?: Record<string, string | undefined>; heartbeatUrl?: string } = {},
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const secrets = options.env ? { env: options.env } : {};
  try {
    const channels = await channelsFromConfig(alerts, { secrets });
    if (channels.length === 0) {
      checks.push({
        name: "alert channels",
        ok: true,
        detail:
          "none configured: checks go down without paging anyone (add alerts.pagerDuty, slack or webhook)",
      });
    }
    for (const channel of channels) {
      checks.push({
        name: `alert channel ${channel.name}`,
        ok: true,
        detail: "built and its secrets resolved (dry run: nothing sent)",
      });
    }
  } catch (error) {
    checks.push(failed("alert channels", error, "fix the alerts section of the config"));
  }
  if (options.heartbeatUrl) {
    try {
      const url = await resolveSecret(options.heartbeatUrl, { field: "daemon.heartbeatUrl", ...secrets });
      const protocol = new URL(url.reveal()).protocol;
      if (protocol !== "https:" && protocol !== "http:")
        throw new Error("daemon.heartbeatUrl: not an http(s) URL");
      checks.push({
        name: "heartbeat url",
        ok: true,
        detail: `resolved from ${url.source} (dry run: not pinged)`,
      });
    } catch (error) {
      checks.push(
        failed("heartbeat url", error, "store the full https:// ping URL in the referenced secret"),
      );
    }
  }
  return checks;
}

// "Watch the watcher": after each verify run the daemon pings a URL (healthchecks.io style: a plain
// GET); the monitoring service pages when the pings stop. The URL is a secret: never logged.

export interface PingOutcome {
  ok: boolean;
  /** Status or failure, without the URL. */
  detail: string;
}

export async function ping(url: string, timeoutMs = 10_000): Promise<PingOutcome> {
  try {
    const response = await fetch(url, {
      method: "GET",
      headers: { "user-agent": "kots-backup-daemon" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.ok
      ? { ok: true, detail: `HTTP ${response.status}` }
      : { ok: false, detail: `HTTP ${response.status}` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ok: false, detail: cause ?? (error as Error).name };
  }
}

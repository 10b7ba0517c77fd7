// kotsadm's app archive (the KOTS config; passwords stay encrypted), saved next to the exports:
// `config/<app>/<backup>.tar.gz` after an export, `config/<app>/manual-<time>.tar.gz` by hand.
import type { Readable } from "node:stream";
import { EnvironmentError, type ObjectStore } from "@kots-backup/core";
import { configKey, manualConfigKey } from "@kots-backup/core/export-layout";
import type { ExportLog } from "./engine.ts";
import { expectedOf, verifyOrRemove } from "./integrity.ts";

export interface ConfigSaved {
  app: string;
  key: string;
  bytes: number;
  sha256: string;
}

/** Saves kotsadm's app archive at `key`, verified; an empty archive is an error. */
export async function saveKotsConfig(
  dest: ObjectStore,
  app: string,
  key: string,
  download: (app: string) => Promise<Readable>,
): Promise<ConfigSaved> {
  const written = await dest.put(key, await download(app), { contentType: "application/gzip" });
  if (written.size === 0) {
    await dest.delete(key).catch(() => {});
    throw new EnvironmentError(
      "kotsadm-download-empty",
      `kotsadm answered the download of ${app} with an empty archive: it did not accept the credentials`,
      {
        fix: "check that Secret kotsadm-authstring is the one kotsadm reads (restart the kotsadm pod after replacing it)",
      },
    );
  }
  await verifyOrRemove(dest, key, expectedOf(written), "gzip");
  return { app, key, bytes: written.size, sha256: written.sha256 ?? "" };
}

/**
 * After the export of backup `name`: each app's archive at `config/<app>/<name>.tar.gz`. A failure is
 * warned and listed, never thrown: the export verified already.
 */
export async function saveConfigs(
  dest: ObjectStore,
  apps: readonly string[],
  name: string,
  download: ((app: string) => Promise<Readable>) | undefined,
  log: ExportLog,
): Promise<Array<ConfigSaved | { app: string; error: string }>> {
  const saved: Array<ConfigSaved | { app: string; error: string }> = [];
  for (const app of apps) {
    try {
      if (!download)
        throw new EnvironmentError(
          "kotsadm-unavailable",
          "no kotsadm connection to download the KOTS config from",
        );
      saved.push(await saveKotsConfig(dest, app, configKey(app, name), download));
    } catch (error) {
      log("warn", `could not save the KOTS config of ${app}`, { reason: (error as Error).message });
      saved.push({ app, error: (error as Error).message });
    }
  }
  return saved;
}

/** `config-download --app <slug>`: the archive at `config/<app>/manual-<YYYYMMDDTHHMMSSZ>.tar.gz`. */
export function saveManualKotsConfig(
  dest: ObjectStore,
  app: string,
  download: (app: string) => Promise<Readable>,
  now: Date = new Date(),
): Promise<ConfigSaved> {
  return saveKotsConfig(dest, app, manualConfigKey(app, now), download);
}

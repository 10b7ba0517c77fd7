// `kots-backup config-download --app <slug>` (docs/contract.md §2, §6): kotsadm's app archive, as
// `kubectl kots download` fetches it (passwords stay encrypted), stored verified at
// `<p>/config/<app>/manual-<YYYYMMDDTHHMMSSZ>.tar.gz` → `{ app, key, bytes, sha256 }`.
// kotsadm answers a bad auth string with an empty 200: an empty archive is exit 3.
import { saveManualKotsConfig } from "@kots-backup/adapters/export/engine";
import { destinationStore } from "@kots-backup/adapters/export/stores";
import { ExitCode } from "@kots-backup/core";
import { parseConfig } from "@kots-backup/core/config";
import { openCluster } from "../context.ts";
import type { CommandAction } from "../program.ts";

export const configDownloadCommand: CommandAction<[{ app: string }]> = async ({ globals, out }, flags) => {
  const { config: loaded, cluster } = await openCluster(globals, {
    warn: (message) => out.log("warn", message),
    log: (message, fields) => out.log("info", message, fields),
  });
  const config = loaded ?? parseConfig({});
  try {
    const destination = await destinationStore(config.export);
    const kotsadm = await cluster.kotsadm();
    const saved = await saveManualKotsConfig(destination, flags.app, (app) => kotsadm.download(app));
    out.result(
      { ...saved, destination: destination.location },
      (s) =>
        `Saved the KOTS config of ${s.app} to ${s.destination} at ${s.key} (${s.bytes} bytes, SHA-256 ${s.sha256}).`,
    );
    return ExitCode.ok;
  } finally {
    await cluster.close();
  }
};

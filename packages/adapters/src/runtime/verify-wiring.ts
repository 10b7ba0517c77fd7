// How verify and status are wired to a cluster, a destination and alert channels: one definition for the
// CLI (`verify`, `status`), the local daemon and the Lambdas.
import type { ExternalPointConfig, ObjectStore } from "@kots-backup/core";
import { EnvironmentError } from "@kots-backup/core";
import type { UseCaseLog } from "@kots-backup/core/usecases/ports";
import type { DeliverPort, VerifySources } from "@kots-backup/core/usecases/verify";
import { type Channel, deliver } from "../alerts/index.ts";
import { externalObserver, type ObserverOptions } from "../external/index.ts";
import type { KubeKotsCluster } from "../kube/cluster.ts";
import { StateStore } from "../state/state-store.ts";

/** A cluster that could not be opened: every read reports the same environment problem. */
function unreachableCluster(name: string, namespace: string, error: unknown): VerifySources["cluster"] {
  const fail = async (): Promise<never> => {
    throw error;
  };
  return { name, kotsadmNamespace: namespace, listBackups: fail, listApps: fail };
}

export interface VerifyWiring {
  /** How the cluster is opened; an EnvironmentError makes every check report `cluster-unreachable`. */
  openCluster: () => Promise<KubeKotsCluster>;
  clusterName: string;
  kotsadmNamespace?: string;
  destination: ObjectStore;
  log: UseCaseLog;
  manifestCache?: VerifySources["manifestCache"];
  /** External recovery points (config `external`); `command` ones only where allowed (not Lambda). */
  external?: { points: readonly ExternalPointConfig[] } & ObserverOptions;
}

/** Verify's sources: an unreachable cluster is not an error (each check reports it, down after grace). */
export async function verifySources(wiring: VerifyWiring): Promise<VerifySources> {
  const { destination, log } = wiring;
  const state = new StateStore(destination);
  // Before the cluster is opened: a point that cannot run here is refused before any side effect.
  const external = wiring.external
    ? { points: wiring.external.points, observe: externalObserver(wiring.external.points, wiring.external) }
    : undefined;
  let cluster: VerifySources["cluster"];
  let bslPhase: VerifySources["bslPhase"];
  try {
    const opened = await wiring.openCluster();
    cluster = opened;
    bslPhase = async () => (await opened.defaultBsl()).phase;
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    log("warn", "the cluster cannot be reached: every check reports cluster-unreachable", {
      reason: error.message,
    });
    cluster = unreachableCluster(wiring.clusterName, wiring.kotsadmNamespace ?? "default", error);
  }
  return {
    cluster,
    ...(bslPhase ? { bslPhase } : {}),
    destination,
    claims: () => state.listClaims(),
    silences: () => state.listSilences(),
    ...(wiring.manifestCache ? { manifestCache: wiring.manifestCache } : {}),
    ...(external && external.points.length > 0 ? { external } : {}),
    log,
  };
}

/** Verify's delivery port over `channels` (each failed attempt is logged, redacted, by `deliver`). */
export function deliveryPort(
  channels: readonly Channel[],
  log: (level: "info" | "warn" | "error", message: string) => void,
): DeliverPort {
  return async (event, only) => {
    const chosen = channels.filter((c) => !only || only.includes(c.name));
    const results = await deliver(chosen, event, {
      log: (line) => log(line.level, `channel ${line.channel}, attempt ${line.attempt}: ${line.message}`),
    });
    return results.map(({ channel, ok, error, failure, status }) => ({
      channel,
      ok,
      ...(error ? { error } : {}),
      ...(failure ? { failure } : {}),
      ...(status === undefined ? {} : { status }),
    }));
  };
}

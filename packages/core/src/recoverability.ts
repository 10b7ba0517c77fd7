// Recoverability per app: what an app can be restored to as a whole. A KOTS snapshot holds the app's
// Kubernetes side; its external database, object storage or registry have recovery points of their own
// (external.ts). The app's recovery point is the oldest of them: restoring it means restoring every one.
// - KOTS snapshot: the newest Completed backup of a schedule covering the app (every full schedule, and
//   the app's partial ones), dated by its completion;
// - its export: the newest exported one of those (dated by the backup's completion: the data's time),
//   when the schedule exports;
// - each external recovery point of the app, dated by its newest point.
// A component without a point leaves the app without a recovery point (named in `limitedBy`).
import type { ExternalPointConfig, ScheduleConfig } from "./config.ts";
import { externalCheckName } from "./external.ts";
import type { CheckState, RestorePoint } from "./freshness.ts";

/** The check fields recoverability reads (a `VerifyCheck` fits). */
export interface RecoverabilityCheck {
  name: string;
  state: CheckState;
  lastSuccessAt?: string;
  restorePoint?: RestorePoint;
}

export interface RecoveryComponent {
  kind: "snapshot" | "export" | "external";
  /** The check it comes from: a schedule's name or `external:<name>`. */
  check: string;
  /** For people: `KOTS snapshot (nightly)`, `export of instance-abc12`, `orders-db (rds)`. */
  label: string;
  /** RFC 3339 UTC: the newest recovery point of this component; absent when there is none. */
  at?: string;
  state: CheckState;
}

export interface AppRecoverability {
  app: string;
  components: RecoveryComponent[];
  /** RFC 3339 UTC: the oldest component's point; absent when a component has none. */
  recoveryPoint?: string;
  /** The label of the component that sets the recovery point, or that has none. */
  limitedBy?: string;
}

const ms = (t: string | undefined) => (t === undefined ? Number.NaN : Date.parse(t));

/** The apps named by partial schedules and external points, each with its components. */
export function recoverabilityByApp(
  schedules: readonly Pick<ScheduleConfig, "name" | "type" | "app" | "export">[],
  external: readonly Pick<ExternalPointConfig, "name" | "kind" | "app">[],
  checks: readonly RecoverabilityCheck[],
): AppRecoverability[] {
  const byName = new Map(checks.map((c) => [c.name, c]));
  const apps = [
    ...new Set([
      ...schedules.flatMap((s) => (s.type === "partial" && s.app ? [s.app] : [])),
      ...external.map((p) => p.app),
    ]),
  ].sort();
  return apps.map((app) => {
    const components: RecoveryComponent[] = [];
    const covering = schedules.filter((s) => s.type === "full" || s.app === app);
    const newest = (pick: (s: (typeof covering)[number], c: RecoverabilityCheck) => string | undefined) =>
      covering
        .map((s) => ({ s, c: byName.get(s.name) }))
        .filter((x): x is { s: (typeof covering)[number]; c: RecoverabilityCheck } => x.c !== undefined)
        .map((x) => ({ ...x, at: pick(x.s, x.c) }))
        .sort((a, b) => (ms(b.at) || 0) - (ms(a.at) || 0))[0];
    const snapshot = newest((_s, c) => c.lastSuccessAt);
    components.push(
      snapshot
        ? {
            kind: "snapshot",
            check: snapshot.s.name,
            label: `KOTS snapshot (${snapshot.s.name})`,
            ...(snapshot.at ? { at: snapshot.at } : {}),
            state: snapshot.c.state,
          }
        : { kind: "snapshot", check: "", label: `KOTS snapshot (no schedule covers ${app})`, state: "new" },
    );
    const exported = newest((s, c) =>
      s.export && c.restorePoint?.exportedAt ? c.restorePoint.completedAt : undefined,
    );
    if (covering.some((s) => s.export)) {
      const point = exported?.at ? exported.c.restorePoint : undefined;
      components.push({
        kind: "export",
        check: exported?.s.name ?? covering.find((s) => s.export)?.name ?? "",
        label: point ? `export of ${point.backup}` : "export",
        ...(point?.completedAt ? { at: point.completedAt } : {}),
        state: (exported ?? snapshot)?.c.state ?? "new",
      });
    }
    for (const point of external.filter((p) => p.app === app)) {
      const check = byName.get(externalCheckName(point.name));
      components.push({
        kind: "external",
        check: externalCheckName(point.name),
        label: `${point.name} (${point.kind})`,
        ...(check?.lastSuccessAt ? { at: check.lastSuccessAt } : {}),
        state: check?.state ?? "new",
      });
    }
    const missing = components.find((c) => Number.isNaN(ms(c.at)));
    if (missing) return { app, components, limitedBy: missing.label };
    const oldest = [...components].sort((a, b) => ms(a.at) - ms(b.at))[0] as RecoveryComponent;
    return { app, components, recoveryPoint: oldest.at as string, limitedBy: oldest.label };
  });
}

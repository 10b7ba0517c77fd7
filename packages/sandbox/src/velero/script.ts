// What a simulated backup will do: its outcome and how long each phase takes (sandbox-clock ms).

export type BackupOutcome = "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation" | "Stuck";

export interface BackupScript {
  /** Default Completed. `Stuck` stays InProgress forever and holds the queue. */
  outcome?: BackupOutcome;
  /** Time in InProgress. Default 30 s. */
  durationMs?: number;
  /** Time in WaitingForPluginOperations(PartiallyFailed); 0 (default) skips that phase. */
  pluginOperationsMs?: number;
  /** Time in Finalizing(PartiallyFailed). Default 0: one reconcile step. */
  finalizingMs?: number;
  /** status.errors / status.warnings counts. PartiallyFailed defaults to 1 error. */
  errors?: number;
  warnings?: number;
  /** status.failureReason for Failed. */
  failureReason?: string;
  /** status.validationErrors for FailedValidation. */
  validationErrors?: string[];
}

export interface ResolvedScript {
  outcome: BackupOutcome;
  durationMs: number;
  pluginOperationsMs: number;
  finalizingMs: number;
  errors: number;
  warnings: number;
  failureReason: string;
  validationErrors: string[];
}

export function resolveScript(script: BackupScript = {}): ResolvedScript {
  const outcome = script.outcome ?? "Completed";
  return {
    outcome,
    durationMs: script.durationMs ?? 30_000,
    pluginOperationsMs: script.pluginOperationsMs ?? 0,
    finalizingMs: script.finalizingMs ?? 0,
    errors: script.errors ?? (outcome === "PartiallyFailed" || outcome === "Failed" ? 1 : 0),
    warnings: script.warnings ?? 0,
    failureReason: script.failureReason ?? "simulated failure: error executing backup hooks",
    validationErrors: script.validationErrors ?? ["simulated validation failure"],
  };
}

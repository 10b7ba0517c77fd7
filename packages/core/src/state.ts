// kots-backup's own persisted records (stored under `<p>/state/…`, see export-layout.ts).

export const ClaimOutcome = {
  /** kotsadm accepted the request; `backup` names the Velero Backup (or improved-DR pair). */
  started: "started",
  /** Not started because a backup was still in progress (Velero runs one at a time). */
  skipped: "skipped",
  /** The request failed (kotsadm refused or was unreachable). */
  error: "error",
} as const;
export type ClaimOutcome = (typeof ClaimOutcome)[keyof typeof ClaimOutcome];

/** One scheduled slot taken by kots-backup: written create-only, so two invocations start one backup. */
export interface SlotClaim {
  schedule: string;
  /** RFC 3339 UTC instant of the slot (EventBridge's scheduled time). */
  slot: string;
  /** RFC 3339 UTC. */
  claimedAt: string;
  outcome?: ClaimOutcome;
  backup?: string;
}

/** Alert state of one check, as persisted between runs (see alert-state.ts). */
export interface AlertRecord {
  state: "up" | "down";
  /** RFC 3339 UTC: when the current up or down period began. */
  since: string;
  reasons: string[];
  /** True when the current down period was never announced because the check was silenced. */
  suppressed?: boolean;
  /** RFC 3339 UTC; copied from the silence so that the record says why nothing was sent. */
  silencedUntil?: string;
}

/** A maintenance window set by `kots-backup silence`. */
export interface Silence {
  schedule: string;
  /** RFC 3339 UTC. */
  until: string;
  reason?: string;
  createdAt: string;
}

// One `doctor` line: pass or fail, what was found, and the fix when it failed.
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** Not checked: not applicable (ok: true), or a prerequisite failed (ok: false). */
  skipped?: boolean;
}

/** How many checks passed, failed and were skipped: each check is counted once. */
export interface DoctorSummary {
  passed: number;
  failed: number;
  /** Not checked, whether not applicable or behind a failed prerequisite (that one is counted as failed). */
  skipped: number;
}

export interface DoctorReport {
  checks: DoctorCheck[];
  summary: DoctorSummary;
}

export function doctorSummary(checks: readonly DoctorCheck[]): DoctorSummary {
  const summary: DoctorSummary = { passed: 0, failed: 0, skipped: 0 };
  for (const check of checks) {
    if (check.skipped) summary.skipped += 1;
    else if (check.ok) summary.passed += 1;
    else summary.failed += 1;
  }
  return summary;
}

/** `doctor` exits 1 when any check failed, or was not checked because one failed. */
export function doctorFailed(report: DoctorReport): boolean {
  return report.checks.some((c) => !c.ok);
}

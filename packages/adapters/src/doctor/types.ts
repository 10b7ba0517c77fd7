// One `doctor` line: pass or fail, what was found, and the fix when it failed.
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** Not checked: not applicable (ok: true), or a prerequisite failed (ok: false). */
  skipped?: boolean;
}

export interface DoctorReport {
  checks: DoctorCheck[];
}

/** `doctor` exits 1 when any check failed. */
export function doctorFailed(report: DoctorReport): boolean {
  return report.checks.some((c) => !c.ok);
}

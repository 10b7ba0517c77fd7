// The sandbox's notion of "now". Controllers read time only from here, so tests move time with
// `advance(ms)` instead of sleeping. In "real" mode the clock follows the wall clock (for the demo).

export type ClockMode = "manual" | "real";

/** Something that wants to act when time moves: it says when it next needs a turn. */
export interface TimeListener {
  /** Epoch ms of the next instant this listener must observe, if any. */
  nextDeadline(): number | undefined;
  /** Does all work due at `now`; answers whether it changed anything (so another round may be due). */
  reconcile(): Promise<boolean>;
}

export class SandboxClock {
  readonly mode: ClockMode;
  private offsetMs = 0;
  private manualNow: number;
  private readonly listeners: TimeListener[] = [];

  constructor(mode: ClockMode = "manual", start: Date = new Date("2026-11-23T12:00:00Z")) {
    this.mode = mode;
    this.manualNow = start.getTime();
  }

  nowMs(): number {
    return this.mode === "manual" ? this.manualNow : Date.now() + this.offsetMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** RFC 3339 without fractional seconds, as Kubernetes and Go's time.RFC3339 write it. */
  iso(ms: number = this.nowMs()): string {
    return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
  }

  addListener(listener: TimeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Moves time forward by `ms`, stopping at every deadline a listener asked for on the way, so a
   * backup due to finish at t+30s finishes at t+30s even when the test jumps ten minutes.
   */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs() + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      await this.settle();
      const deadlines = this.listeners
        .map((l) => l.nextDeadline())
        .filter((d): d is number => d !== undefined && d > this.nowMs() && d <= target);
      const next = deadlines.length > 0 ? Math.min(...deadlines) : target;
      this.set(next);
      if (next >= target) break;
    }
    await this.settle();
  }

  /** Lets every listener do the work due now (a few rounds, since one step can enable another). */
  async settle(): Promise<void> {
    for (let round = 0; round < 50; round++) {
      let changed = false;
      for (const listener of this.listeners) changed = (await listener.reconcile()) || changed;
      if (!changed) return;
    }
  }

  private set(ms: number): void {
    if (this.mode === "manual") this.manualNow = ms;
    else this.offsetMs += ms - this.nowMs();
  }
}

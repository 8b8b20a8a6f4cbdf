// Simulated time: it moves only when the simulator moves it, so leases, backoff, query delays and
// deadlines run on the schedule's time, not the machine's.

/** Where every schedule's time starts (any fixed instant: traces print offsets from it). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/** A clock that stands still until `advanceTo` moves it forward. */
export class SimClock {
  #ms = SIM_EPOCH_MS;

  /** The injected clock for Tally's config. */
  readonly now = (): Date => new Date(this.#ms);

  /** Milliseconds since the schedule began. */
  get elapsed(): number {
    return this.#ms - SIM_EPOCH_MS;
  }

  /** Moves time forward to `elapsedMs` after the start (never back). */
  advanceTo(elapsedMs: number): void {
    this.#ms = Math.max(this.#ms, SIM_EPOCH_MS + elapsedMs);
  }
}

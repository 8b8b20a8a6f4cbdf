import { performance } from 'node:perf_hooks';
import type { ReadsDialect, ReplicaPool } from './dialect/types.js';
import { withTimeout } from './health.js';
import type { Lsn } from './lsn.js';

export { sleep } from './sleep.js';

interface Waiter {
  lsn: Lsn;
  deadline: number;
  resolve: (ok: boolean) => void;
}

/**
 * Waits for one replica to apply a position. All reads waiting on the same replica share one loop (one
 * statement at a time, however many readers wait), so a burst of token reads after a burst of writes does
 * not turn into a burst of probes. Each turn asks the dialect to advance towards the lowest position still
 * wanted: PostgreSQL sleeps one poll interval and reads the replay position; MariaDB blocks in
 * `MASTER_GTID_WAIT` until that position is applied or the nearest deadline passes.
 */
export class ReplayWaiter {
  private waiters: Waiter[] = [];
  private running = false;

  constructor(
    private readonly pool: ReplicaPool,
    private readonly dialect: Pick<ReadsDialect, 'advance' | 'reached'>,
    private readonly onReplay: (lsn: Lsn) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves true once the replica has applied `lsn`, false after `timeoutMs` or if it fails. */
  waitFor(lsn: Lsn, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiters.push({ lsn, deadline: performance.now() + timeoutMs, resolve });
      if (!this.running) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.length > 0) {
        const target = this.waiters.reduce((m, w) => (w.lsn < m ? w.lsn : m), this.waiters[0]!.lsn);
        const soonest = Math.min(...this.waiters.map((w) => w.deadline));
        const waitMs = Math.max(1, soonest - performance.now());
        let replay: Lsn | null = null;
        try {
          // A replica that hangs must not hold readers past their deadline (plus a second's grace).
          replay = await withTimeout(this.dialect.advance(this.pool, target, waitMs), waitMs + 1000);
        } catch (err) {
          this.onError(err);
          this.settleAll(false);
          return;
        }
        if (replay !== null) this.onReplay(replay);
        const now = performance.now();
        const keep: Waiter[] = [];
        for (const w of this.waiters) {
          if (this.dialect.reached(replay, w.lsn)) w.resolve(true);
          else if (now >= w.deadline) w.resolve(false);
          else keep.push(w);
        }
        this.waiters = keep;
      }
    } finally {
      this.running = false;
    }
  }

  settleAll(ok: boolean): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.resolve(ok);
  }
}

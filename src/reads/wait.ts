import { performance } from 'node:perf_hooks';
import type { QueryableLike } from '../db/types.js';
import { withTimeout } from './health.js';
import { type Lsn, parseLsn, replayedPast } from './lsn.js';
import { readsSql } from './sql.js';

interface Waiter {
  lsn: Lsn;
  deadline: number;
  resolve: (ok: boolean) => void;
}

/**
 * Waits for one replica to replay a position. All reads waiting on the same replica share one polling
 * loop (one query every `intervalMs`, however many readers wait), so a burst of token reads after a burst
 * of writes does not turn into a burst of probes.
 */
export class ReplayWaiter {
  private waiters: Waiter[] = [];
  private running = false;

  constructor(
    private readonly pool: QueryableLike,
    private readonly intervalMs: number,
    private readonly walBlockSize: bigint,
    private readonly onReplay: (lsn: Lsn) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves true once the replica has replayed `lsn`, false after `timeoutMs` or if it fails. */
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
        await sleep(this.intervalMs);
        let replay: Lsn | null = null;
        try {
          const res = await withTimeout(this.pool.query(readsSql.replayPosition().text), 1000);
          replay = parseLsn(res.rows[0]?.lsn);
        } catch (err) {
          this.onError(err);
          this.settleAll(false);
          return;
        }
        if (replay !== null) this.onReplay(replay);
        const now = performance.now();
        const keep: Waiter[] = [];
        for (const w of this.waiters) {
          if (replayedPast(replay, w.lsn, this.walBlockSize)) w.resolve(true);
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

import type { SqlQuery } from '../db/types.js';

/** What a worker's rounds add to its row of the minute (worker_rounds, migration 16). */
export interface RoundCounts {
  rounds: number;
  claimed: number;
  succeeded: number;
  failed: number;
  needsAttention: number;
  /** Driven and still open (pending or compensating): waiting for a retry, a query or a breaker. */
  waiting: number;
  errors: number;
  busyMs: number;
}

/**
 * Adds the counts to the worker's row of the minute (created on its first round of that minute). When
 * `pruneBefore` is set, rows of every worker older than it are deleted in the same statement: a worker
 * asks for that once a minute, so the table holds about a day of minutes.
 */
export const addRoundsSql = (
  s: string,
  worker: string,
  minute: Date,
  at: Date,
  c: RoundCounts,
  pruneBefore: Date | null,
): SqlQuery => ({
  text: `WITH gone AS (DELETE FROM ${s}.worker_rounds WHERE $12::timestamptz IS NOT NULL AND minute < $12)
         INSERT INTO ${s}.worker_rounds AS w (minute, worker, rounds, claimed, succeeded, failed,
                                               needs_attention, waiting, errors, busy_ms, last_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (minute, worker) DO UPDATE SET
           rounds = w.rounds + EXCLUDED.rounds, claimed = w.claimed + EXCLUDED.claimed,
           succeeded = w.succeeded + EXCLUDED.succeeded, failed = w.failed + EXCLUDED.failed,
           needs_attention = w.needs_attention + EXCLUDED.needs_attention,
           waiting = w.waiting + EXCLUDED.waiting, errors = w.errors + EXCLUDED.errors,
           busy_ms = w.busy_ms + EXCLUDED.busy_ms, last_at = greatest(w.last_at, EXCLUDED.last_at)`,
  values: [
    minute,
    worker,
    c.rounds,
    c.claimed,
    c.succeeded,
    c.failed,
    c.needsAttention,
    c.waiting,
    c.errors,
    Math.round(c.busyMs),
    at,
    pruneBefore,
  ],
});

import type { SqlQuery } from '../db/types.js';

/**
 * The lowest xid a consumer of `source` may still be owed: every row written below it is behind every
 * consumer's checkpoint (decision 0040: an xid below a snapshot's xmin is visible in it). NULL when the
 * source has no consumer, and a comparison with NULL is never true: nothing is held back then.
 */
export const slowestXminSql = (s: string, source: 'log' | 'command_events'): string =>
  `(SELECT min(pg_snapshot_xmin(f.snapshot::pg_snapshot)) FROM ${s}.feed_consumers f WHERE f.source = '${source}')`;

/**
 * Deletes up to `limit` expired command records of one type, oldest finish first, in one short statement
 * (its calls, events and alerts go by ON DELETE CASCADE). Only finished ones (succeeded, failed: no
 * transition leaves them), none with an open alert, none whose events a command_events consumer has not
 * been handed yet, and — unless `prune unreconciled` — none with a call the commands reconciler has not
 * settled (decision 0058). Rows another session holds are skipped, never waited for.
 * Found through `commands_finished` (migration 11).
 */
export const pruneCommandsSql = (
  s: string,
  type: string,
  finishedBefore: Date,
  limit: number,
  pruneUnreconciled: boolean,
): SqlQuery => ({
  text: `WITH v AS (
           SELECT c.id FROM ${s}.commands c
            WHERE c.type = $1 AND c.status IN ('succeeded', 'failed') AND c.finished_at < $2
              AND ($4::boolean OR NOT EXISTS (SELECT 1 FROM ${s}.command_calls k
                                               WHERE k.command_id = c.id AND k.reconciled_at IS NULL))
              AND NOT EXISTS (SELECT 1 FROM ${s}.command_alerts a
                               WHERE a.command_id = c.id AND a.resolved_at IS NULL)
              AND NOT EXISTS (SELECT 1 FROM ${s}.command_events e
                               WHERE e.command_id = c.id AND e.txid >= ${slowestXminSql(s, 'command_events')})
            ORDER BY c.finished_at
            LIMIT $3
            FOR UPDATE SKIP LOCKED),
         d AS (DELETE FROM ${s}.commands c USING v WHERE c.id = v.id RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
  values: [type, finishedBefore, limit, pruneUnreconciled],
});

/**
 * Deletes up to `limit` failover intake rows of one type handed over to the primary before `before`
 * (decision 0061). Once handed over a row only says "the primary holds it"; without it, a retry during a
 * later outage is answered COMMAND_OUTCOME_UNKNOWN by the key-time rule, as it would be with it. Rows not
 * yet handed over are never deleted. The intake table holds what outages recorded: it is read without an
 * index on handed_over_at.
 */
export const pruneIntakeSql = (s: string, type: string, before: Date, limit: number): SqlQuery => ({
  text: `WITH v AS (
           SELECT i.id FROM ${s}.command_intake i
            WHERE i.type = $1 AND i.handed_over_at < $2
            ORDER BY i.handed_over_at
            LIMIT $3
            FOR UPDATE SKIP LOCKED),
         d AS (DELETE FROM ${s}.command_intake i USING v WHERE i.id = v.id RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
  values: [type, before, limit],
});

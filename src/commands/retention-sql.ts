import type { SqlQuery } from '../db/types.js';

/**
 * True for a row (its writing transaction `txid`) some consumer of `source` has not been handed yet: not
 * visible in that consumer's checkpoint snapshot (decision 0040). Exact per row, not "below the oldest
 * xmin": a snapshot's xmin is the oldest transaction running anywhere on the server, which any long
 * transaction holds back. A consumer in the middle of a window counts its window as not handed yet.
 */
export const owedSql = (s: string, source: 'log' | 'command_events', txid: string): string =>
  `EXISTS (SELECT 1 FROM ${s}.feed_consumers f
            WHERE f.source = '${source}' AND NOT pg_visible_in_snapshot(${txid}, f.snapshot::pg_snapshot))`;

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
                               WHERE e.command_id = c.id AND ${owedSql(s, 'command_events', 'e.txid')})
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

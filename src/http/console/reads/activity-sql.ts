import type { SqlQuery } from '../../../db/types.js';

// The Overview's worker rounds and reconcile results (migration 16, decision 0146). Both tables are small
// and bounded: worker_rounds a day of minutes per busy worker, reconcile_runs 50 results per entity type.

/** Worker rounds added up per bucket since `from` (a range of worker_rounds' primary key). */
export const roundsOverTimeSql = (s: string, bucket: 'minute' | 'hour' | 'day', from: Date): SqlQuery => ({
  text: `SELECT date_trunc('${bucket}', minute, 'UTC') AS at, sum(rounds)::int8 AS rounds,
                sum(claimed)::int8 AS claimed, sum(succeeded)::int8 AS succeeded, sum(failed)::int8 AS failed,
                sum(needs_attention)::int8 AS needs_attention, sum(waiting)::int8 AS waiting,
                sum(errors)::int8 AS errors, sum(busy_ms)::int8 AS busy_ms
           FROM ${s}.worker_rounds WHERE minute >= $1::timestamptz GROUP BY 1 ORDER BY 1`,
  values: [from],
});

/** Each worker seen since `from`: its last round that claimed something, and its totals (20 most recent). */
export const roundsByWorkerSql = (s: string, from: Date): SqlQuery => ({
  text: `SELECT worker, max(last_at) AS last_at, sum(rounds)::int8 AS rounds, sum(claimed)::int8 AS claimed,
                sum(errors)::int8 AS errors
           FROM ${s}.worker_rounds WHERE minute >= $1::timestamptz
          GROUP BY worker ORDER BY max(last_at) DESC LIMIT 20`,
  values: [from],
});

/** Per entity type: its last `recent` checks and its last repair, newest first. */
export const reconcileRunsSql = (s: string, recent: number): SqlQuery => ({
  text: `SELECT entity_type, kind, at, checked, log_entries, findings, repaired, duration_ms FROM (
           SELECT r.*, row_number() OVER (PARTITION BY entity_type, kind ORDER BY id DESC) AS n
             FROM ${s}.reconcile_runs r) x
          WHERE (kind = 'check' AND n <= $1) OR (kind = 'repair' AND n = 1)
          ORDER BY entity_type, id DESC`,
  values: [recent],
});

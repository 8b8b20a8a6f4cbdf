import { fullBeforeSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';
import { snapshotXmax, snapshotXmin } from './position.js';
import type { FeedPosition, FeedSource } from './types.js';

/**
 * The current snapshot as text, with this transaction's own xid (if it has one) put back among the
 * running ones. PostgreSQL leaves a backend's own xid out of its snapshot's xip list; a checkpoint
 * taken inside a transaction that already wrote (or locked) something would otherwise call that
 * transaction "visible", and the log rows it writes afterwards would never be delivered.
 */
export const CURRENT_SNAPSHOT = `(SELECT CASE
    WHEN cur.me IS NULL OR cur.me >= pg_snapshot_xmax(cur.c) THEN cur.c::text
    ELSE least(pg_snapshot_xmin(cur.c), cur.me)::text || ':' || pg_snapshot_xmax(cur.c)::text || ':' ||
         (SELECT string_agg(u.x::text, ',' ORDER BY u.x)
            FROM (SELECT pg_snapshot_xip(cur.c) AS x UNION SELECT cur.me) u)
  END
  FROM (SELECT pg_current_snapshot() AS c, pg_current_xact_id_if_assigned() AS me) cur)`;

/**
 * A log row as one JSON text, keys in LogEntry order and `at` as JSON.stringify writes a Date. One text
 * column instead of seventeen typed ones: the driver builds one string per row instead of seventeen values
 * (jsonb, timestamptz and text[] parsed on the way), and the NATS relay publishes the text as it is instead
 * of serializing the parsed entry again (decision 0047: reading and encoding were most of the relay's Node CPU).
 * `before` is the full before image, however the entry stores it (decision 0007).
 * row_to_json of a row rather than json_build_object: PostgreSQL 15 looks up the output function of each of
 * json_build_object's 34 arguments on every row, which made it a third slower per page.
 */
const LOG_FIELDS = `t.id::text AS id, (SELECT row_to_json(r)::text FROM (SELECT t.id::text AS id, t.entity_type,
  t.entity_key, t.version, t.action, t.actor, t.source_ip, t.reason, t.request_id, t.command_id,
  ${fullBeforeSql('t')} AS before, t.after, t.changed, to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
  t.txid::text AS txid, encode(t.prev_hash, 'hex') AS prev_hash, encode(t.hash, 'hex') AS hash) r) AS j`;

const EVENT_FIELDS = `t.id::text AS id, t.txid::text AS txid, t.command_id::text AS command_id,
  c.type AS command_type, t.kind, t.step, t.data, t.at`;

interface SourceSql {
  readonly from: (s: string) => string;
  readonly fields: string;
  readonly typeColumn: string;
}

const SOURCES: Record<FeedSource, SourceSql> = {
  log: { from: (s) => `${s}.log t`, fields: LOG_FIELDS, typeColumn: 't.entity_type' },
  command_events: {
    from: (s) => `${s}.command_events t JOIN ${s}.commands c ON c.id = t.command_id`,
    fields: EVENT_FIELDS,
    typeColumn: 'c.type',
  },
};

/**
 * The ids of a window's next page: written by transactions visible in `hi` and not in `lo`, found
 * through the (txid, id) index from xmin(lo) (every xid below it is visible in lo, hence delivered),
 * in id order after `afterId`. Only ids are sorted; the rows are fetched for the page alone.
 * Parameters: $1 xmin(lo), $2 lo, $3 afterId, $4 limit, $5 types; `hi` and `hiXmax` are SQL.
 */
function pageIds(s: string, source: FeedSource, hi: string, hiXmax: string): string {
  const src = SOURCES[source];
  return `SELECT t.id FROM ${src.from(s)}
     WHERE t.txid >= $1::xid8 AND t.txid < ${hiXmax}
       AND pg_visible_in_snapshot(t.txid, ${hi}) AND NOT pg_visible_in_snapshot(t.txid, $2::pg_snapshot)
       AND t.id > $3::int8 AND ($5::text[] IS NULL OR ${src.typeColumn} = ANY($5::text[]))
     ORDER BY t.id LIMIT $4::int`;
}

/**
 * The rows of a page's ids, one primary-key probe each. A plain join let the planner hash the whole log
 * (a sequential scan per page) once its estimate of the page grew, which made a page of 2,000 entries
 * half again as slow on a 100k-row log; OFFSET 0 keeps the subquery from being flattened into a join.
 */
const pageRows = (s: string, source: FeedSource, positionsOnly: boolean): string =>
  `p CROSS JOIN LATERAL (SELECT ${positionsOnly ? POSITION_FIELDS : SOURCES[source].fields} FROM ${SOURCES[source].from(s)} WHERE t.id = p.id OFFSET 0) e`;

/**
 * A page for a consumer that reads the rows itself (the sealer): the entries' positions only. Building
 * each log row's JSON (its full before image too) was most of the sealer's read (decision 0068).
 */
const POSITION_FIELDS = `t.id::text AS id, t.txid::text AS txid`;

/**
 * One page of the feed from `pos`. While a window is being paged (pos.upper set) its bounds are
 * constants, so the planner can see how wide the window is and walk the primary key in id order for a
 * wide one (a catch-up) instead of sorting the whole window for every page. A new window takes the
 * current snapshot in the same statement and returns it as `upper` on every row (one row of nulls
 * when the window is empty).
 */
export function pageSql(
  s: string,
  pos: FeedPosition,
  limit: number,
  types: readonly string[] | null,
  positionsOnly = false,
): SqlQuery {
  const values: unknown[] = [snapshotXmin(pos.snapshot), pos.snapshot, pos.afterId ?? '0', limit, types];
  if (pos.upper !== null) {
    values.push(pos.upper, snapshotXmax(pos.upper));
    // pg_current_xact_id_if_assigned() is parallel-unsafe, so the planner never starts parallel workers
    // for a page: their start-up (16-18 ms measured, decision 0047) was a third of a 2,000-row page's time
    // and bought nothing for a LIMIT-bounded read. The new-window form below has it already.
    return {
      text: `WITH p AS (${pageIds(s, pos.source, '$6::pg_snapshot', '$7::xid8')})
        SELECT $6::text AS upper, pg_current_xact_id_if_assigned() AS serial_plan, e.*
          FROM ${pageRows(s, pos.source, positionsOnly)} ORDER BY p.id`,
      values,
    };
  }
  return {
    text: `WITH w AS MATERIALIZED (SELECT ${CURRENT_SNAPSHOT} AS hi),
           p AS (${pageIds(s, pos.source, '(SELECT hi::pg_snapshot FROM w)', '(SELECT pg_snapshot_xmax(hi::pg_snapshot) FROM w)')})
      SELECT w.hi AS upper, e.* FROM w LEFT JOIN LATERAL (SELECT p.id AS pid, e.* FROM ${pageRows(s, pos.source, positionsOnly)}) e ON true
       ORDER BY e.pid`,
    values,
  };
}

/**
 * Undelivered committed entries from `pos` and the time of the oldest: visible now, not in
 * pos.snapshot, and not among the part of the current window already delivered.
 */
export function lagSql(s: string, pos: FeedPosition, types: readonly string[] | null): SqlQuery {
  const src = SOURCES[pos.source];
  return {
    text: `WITH w AS MATERIALIZED (SELECT ${CURRENT_SNAPSHOT} AS hi)
      SELECT count(*)::int8 AS entries, min(t.at) AS oldest FROM w, ${src.from(s)}
       WHERE t.txid >= $1::xid8 AND t.txid < pg_snapshot_xmax(w.hi::pg_snapshot)
         AND pg_visible_in_snapshot(t.txid, w.hi::pg_snapshot)
         AND NOT pg_visible_in_snapshot(t.txid, $2::pg_snapshot)
         AND NOT coalesce(pg_visible_in_snapshot(t.txid, $3::pg_snapshot) AND t.id <= $4::int8, false)
         AND ($5::text[] IS NULL OR ${src.typeColumn} = ANY($5::text[]))`,
    values: [snapshotXmin(pos.snapshot), pos.snapshot, pos.upper, pos.afterId, types],
  };
}

const CONSUMER_COLUMNS = `name, source, entity_types, snapshot, upper, after_id::text AS after_id,
  delivered::int8 AS delivered, lease_owner, lease_until, created_at, updated_at`;

export type ConsumerRow = {
  name: string;
  source: FeedSource;
  entity_types: string[] | null;
  snapshot: string;
  upper: string | null;
  after_id: string | null;
  delivered: string | number;
  lease_owner: string | null;
  lease_until: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
};

/** Creates the consumer unless it exists, at the beginning (`fromNow` false) or at the current snapshot. */
export const createConsumerSql = (
  s: string,
  name: string,
  source: FeedSource,
  types: readonly string[] | null,
  fromNow: boolean,
  beginning: string,
  now: Date,
): SqlQuery => ({
  text: `INSERT INTO ${s}.feed_consumers (name, source, entity_types, snapshot, created_at, updated_at)
         VALUES ($1, $2, $3::text[], coalesce($4::text, ${CURRENT_SNAPSHOT}), $5, $5)
         ON CONFLICT (name) DO NOTHING`,
  values: [name, source, types, fromNow ? null : beginning, now],
});

export const getConsumerSql = (s: string, name: string, forUpdate = false): SqlQuery => ({
  text: `SELECT ${CONSUMER_COLUMNS} FROM ${s}.feed_consumers WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`,
  values: [name],
});

export const setTypesSql = (s: string, name: string, types: readonly string[] | null): SqlQuery => ({
  text: `UPDATE ${s}.feed_consumers SET entity_types = $2::text[] WHERE name = $1`,
  values: [name, types],
});

/** Takes or renews the lease: free, expired, or already this owner's. No row back: someone else holds it. */
export const claimSql = (s: string, name: string, owner: string, now: Date, until: Date): SqlQuery => ({
  text: `UPDATE ${s}.feed_consumers SET lease_owner = $2, lease_until = $4
          WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3)
          RETURNING ${CONSUMER_COLUMNS}`,
  values: [name, owner, now, until],
});

export const releaseSql = (s: string, name: string, owner: string): SqlQuery => ({
  text: `UPDATE ${s}.feed_consumers SET lease_owner = NULL, lease_until = NULL
          WHERE name = $1 AND lease_owner = $2`,
  values: [name, owner],
});

/**
 * Moves the checkpoint from `from` to `to`, only while `owner` holds the lease and the checkpoint is
 * still `from` (a replay in between wins). Renews the lease. No row back: nothing was moved.
 */
export const advanceSql = (
  s: string,
  name: string,
  owner: string,
  from: FeedPosition,
  to: FeedPosition,
  delivered: number,
  now: Date,
  until: Date,
): SqlQuery => ({
  text: `UPDATE ${s}.feed_consumers
            SET snapshot = $6, upper = $7, after_id = $8::int8, delivered = delivered + $9,
                lease_until = $11, updated_at = $10
          WHERE name = $1 AND lease_owner = $2 AND snapshot = $3
            AND upper IS NOT DISTINCT FROM $4::text AND after_id IS NOT DISTINCT FROM $5::int8
          RETURNING name`,
  values: [
    name,
    owner,
    from.snapshot,
    from.upper,
    from.afterId,
    to.snapshot,
    to.upper,
    to.afterId,
    delivered,
    now,
    until,
  ],
});

/** Sets the checkpoint (replay), unless another process holds the lease. */
export const resetSql = (s: string, name: string, owner: string, to: FeedPosition, now: Date): SqlQuery => ({
  text: `UPDATE ${s}.feed_consumers SET snapshot = $3, upper = $4, after_id = $5::int8, updated_at = $6
          WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $6)
          RETURNING name`,
  values: [name, owner, to.snapshot, to.upper, to.afterId, now],
});

/** The current snapshot (for a replay window's upper bound). */
export const currentSnapshotSql = (): SqlQuery => ({ text: `SELECT ${CURRENT_SNAPSHOT} AS snapshot` });

/** The first entry id at or after a time (replay from a time). */
export const firstIdAtSql = (s: string, source: FeedSource, at: Date): SqlQuery => ({
  text: `SELECT min(id)::text AS id FROM ${s}.${source === 'log' ? 'log' : 'command_events'} WHERE at >= $1`,
  values: [at],
});

/**
 * Deletes a consumer and its inbox records unless a process holds a live lease on it. Returns one row:
 * whether it existed, and whether it was deleted.
 */
export const deleteConsumerSql = (s: string, name: string, now: Date): SqlQuery => ({
  text: `WITH c AS (SELECT name, lease_owner IS NOT NULL AND lease_until >= $2 AS held
                      FROM ${s}.feed_consumers WHERE name = $1 FOR UPDATE),
              gone AS (DELETE FROM ${s}.feed_consumers WHERE name IN (SELECT name FROM c WHERE NOT held)
                       RETURNING name),
              inbox AS (DELETE FROM ${s}.feed_inbox WHERE consumer IN (SELECT name FROM gone))
         SELECT EXISTS (SELECT 1 FROM c) AS found, EXISTS (SELECT 1 FROM gone) AS deleted`,
  values: [name, now],
});

/** Records an entry as applied; no row back when it was applied before (a redelivery). */
export const inboxInsertSql = (
  s: string,
  consumer: string,
  source: FeedSource,
  entryId: string,
  now: Date,
): SqlQuery => ({
  text: `INSERT INTO ${s}.feed_inbox (consumer, source, entry_id, applied_at) VALUES ($1, $2, $3::int8, $4)
         ON CONFLICT DO NOTHING RETURNING entry_id`,
  values: [consumer, source, entryId, now],
});

export const pruneInboxSql = (s: string, consumer: string, before: Date): SqlQuery => ({
  text: `WITH d AS (DELETE FROM ${s}.feed_inbox WHERE consumer = $1 AND applied_at < $2 RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
  values: [consumer, before],
});

import type { SqlQuery } from '../../../db/types.js';
import type { FeedPosition } from '../../types.js';
import { parseSnapshot, type Snapshot, seqList, seqValue } from './snapshot.js';

/**
 * The feed's statements on MySQL 8.0 / MariaDB (decision 0134). Tables are `<schema>_<table>` in the
 * connection's database (decision 0131); `t` maps a table name to it. Placeholders are `?`; an array
 * expands to a list. Times are UTC DATETIME(6) text (utcText), never driver Dates.
 */
export type Tables = (table: string) => string;

/** A log row in the shape history gives (decision 0007: `before` is the full image). */
const LOG_FIELDS = `CAST(l.id AS CHAR) AS id, l.entity_type, l.entity_key, l.version, l.action, l.actor,
  l.source_ip, l.reason, l.request_id, l.command_id,
  CASE WHEN l.before_delta THEN JSON_MERGE_PATCH(l.\`after\`, l.\`before\`) ELSE l.\`before\` END AS \`before\`,
  l.\`after\`, l.changed, DATE_FORMAT(l.at, '%Y-%m-%dT%H:%i:%s.%fZ') AS at, CAST(l.txid AS CHAR) AS txid,
  LOWER(HEX(l.prev_hash)) AS prev_hash, LOWER(HEX(l.hash)) AS hash`;

/**
 * Rows written by statements visible in `hi` and not in `lo`, as SQL over `l.txid` with its values.
 * The range `txid >= xmin(lo)` is what the (txid, id) index reads; below xmax(hi) a row is visible in hi
 * unless listed in its xip; above xmin(lo) it is invisible in lo when at or above xmax(lo) or listed.
 */
function window(lo: Snapshot, hi: Snapshot): { sql: string; values: unknown[] } {
  return {
    sql: `l.txid >= ? AND l.txid < ? AND l.txid NOT IN (?) AND (l.txid >= ? OR l.txid IN (?))`,
    values: [seqValue(lo.xmin), seqValue(hi.xmax), seqList(hi.xip), seqValue(lo.xmax), seqList(lo.xip)],
  };
}

const typesSql = (types: readonly string[] | null) =>
  types === null ? { sql: '', values: [] } : { sql: ' AND l.entity_type IN (?)', values: [types] };

/** One page of a window, in id order after `afterId`. */
export function pageSql(
  t: Tables,
  lo: string,
  hi: string,
  afterId: string,
  limit: number,
  types: readonly string[] | null,
): SqlQuery {
  const w = window(parseSnapshot(lo), parseSnapshot(hi));
  const ty = typesSql(types);
  return {
    text: `SELECT ${LOG_FIELDS} FROM ${t('log')} l
            WHERE ${w.sql} AND l.id > ?${ty.sql} ORDER BY l.id LIMIT ?`,
    values: [...w.values, afterId, ...ty.values, limit],
  };
}

/** Entries visible in `hi` and not yet delivered from `pos`, and the oldest one's time. */
export function lagSql(t: Tables, pos: FeedPosition, hi: string, types: readonly string[] | null): SqlQuery {
  const w = window(parseSnapshot(pos.snapshot), parseSnapshot(hi));
  const ty = typesSql(types);
  let paged = { sql: '', values: [] as unknown[] };
  if (pos.upper !== null) {
    // Part of the window in hand is delivered: visible in its upper snapshot and at or before afterId.
    const up = parseSnapshot(pos.upper);
    paged = {
      sql: ` AND NOT ((l.txid < ? OR (l.txid < ? AND l.txid NOT IN (?))) AND l.id <= ?)`,
      values: [seqValue(up.xmin), seqValue(up.xmax), seqList(up.xip), pos.afterId],
    };
  }
  return {
    text: `SELECT COUNT(*) AS entries, DATE_FORMAT(MIN(l.at), '%Y-%m-%dT%H:%i:%s.%fZ') AS oldest
             FROM ${t('log')} l WHERE ${w.sql}${paged.sql}${ty.sql}`,
    values: [...w.values, ...paged.values, ...ty.values],
  };
}

const CONSUMER_COLUMNS = `name, source, entity_types, snapshot, upper, CAST(after_id AS CHAR) AS after_id,
  delivered, lease_owner, DATE_FORMAT(lease_until, '%Y-%m-%dT%H:%i:%s.%fZ') AS lease_until,
  DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS created_at,
  DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS updated_at`;

export const createConsumerSql = (
  t: Tables,
  name: string,
  source: string,
  types: readonly string[] | null,
  snapshot: string,
  now: string,
): SqlQuery => ({
  text: `INSERT IGNORE INTO ${t('feed_consumers')} (name, source, entity_types, snapshot, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
  values: [name, source, types === null ? null : JSON.stringify(types), snapshot, now, now],
});

export const getConsumerSql = (t: Tables, name: string, forUpdate: boolean): SqlQuery => ({
  text: `SELECT ${CONSUMER_COLUMNS} FROM ${t('feed_consumers')} WHERE name = ?${forUpdate ? ' FOR UPDATE' : ''}`,
  values: [name],
});

export const setTypesSql = (t: Tables, name: string, types: readonly string[] | null): SqlQuery => ({
  text: `UPDATE ${t('feed_consumers')} SET entity_types = ? WHERE name = ?`,
  values: [types === null ? null : JSON.stringify(types), name],
});

/** Takes or renews the lease; the caller reads the row back to learn whether it holds it. */
export const claimSql = (t: Tables, name: string, owner: string, now: string, until: string): SqlQuery => ({
  text: `UPDATE ${t('feed_consumers')} SET lease_owner = ?, lease_until = ?
          WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)`,
  values: [owner, until, name, owner, now],
});

export const releaseSql = (t: Tables, name: string, owner: string): SqlQuery => ({
  text: `UPDATE ${t('feed_consumers')} SET lease_owner = NULL, lease_until = NULL
          WHERE name = ? AND lease_owner = ?`,
  values: [name, owner],
});

/** The guarded checkpoint move (decision 0041); `affectedRows` 1 when it moved. */
export const advanceSql = (
  t: Tables,
  name: string,
  owner: string,
  from: FeedPosition,
  to: FeedPosition,
  delivered: number,
  now: string,
  until: string,
): SqlQuery => ({
  text: `UPDATE ${t('feed_consumers')}
            SET snapshot = ?, upper = ?, after_id = ?, delivered = delivered + ?, lease_until = ?, updated_at = ?
          WHERE name = ? AND lease_owner = ? AND snapshot = ? AND upper <=> ? AND after_id <=> ?`,
  values: [
    to.snapshot,
    to.upper,
    to.afterId,
    delivered,
    until,
    now,
    name,
    owner,
    from.snapshot,
    from.upper,
    from.afterId,
  ],
});

export const resetSql = (
  t: Tables,
  name: string,
  owner: string,
  to: FeedPosition,
  now: string,
): SqlQuery => ({
  text: `UPDATE ${t('feed_consumers')} SET snapshot = ?, upper = ?, after_id = ?, updated_at = ?
          WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)`,
  values: [to.snapshot, to.upper, to.afterId, now, name, owner, now],
});

export const firstIdAtSql = (t: Tables, at: string): SqlQuery => ({
  text: `SELECT CAST(MIN(id) AS CHAR) AS id FROM ${t('log')} WHERE at >= ?`,
  values: [at],
});

export const inboxInsertSql = (
  t: Tables,
  consumer: string,
  source: string,
  entryId: string,
  now: string,
): SqlQuery => ({
  text: `INSERT IGNORE INTO ${t('feed_inbox')} (consumer, source, entry_id, applied_at) VALUES (?, ?, ?, ?)`,
  values: [consumer, source, entryId, now],
});

export const pruneInboxSql = (t: Tables, consumer: string, before: string): SqlQuery => ({
  text: `DELETE FROM ${t('feed_inbox')} WHERE consumer = ? AND applied_at < ?`,
  values: [consumer, before],
});

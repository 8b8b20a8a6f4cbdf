import type { SqlQuery } from '../db/types.js';

// The archive's table (log_archives) is migration 11 (src/schema/migrations.ts).

/**
 * A log row's columns as an archive line holds them: the leaf columns exactly as src/evidence/sql.ts
 * selects them for the sealer (so `logRowLeafHash` of a line is the sealed leaf), plus the legacy chain
 * hashes (hex) so the archive is a whole copy of the row. Only `txid` is left out (an ordering detail).
 */
const ROW_COLUMNS = `l.id::text AS id, l.entity_type, l.entity_key, l.version::text AS version, l.action, l.actor,
  l.source_ip, l.reason, l.request_id, l.command_id, l.before::text AS before, l.after::text AS after,
  l.before_delta, l.changed, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
  encode(l.prev_hash, 'hex') AS prev_hash, encode(l.hash, 'hex') AS hash`;

/**
 * Tree positions [from, to) with their rows, and for each whether it may move: `old` (written before the
 * horizon) and `owed` (some log feed consumer has not been handed it: its txid is not visible in that
 * consumer's checkpoint snapshot, decision 0040 — exact, not the snapshot's xmin, which any transaction
 * running anywhere on the server holds back). A position whose row is gone has NULL columns.
 */
export const archivePageSql = (
  s: string,
  origin: string,
  from: number,
  to: number,
  before: Date,
): SqlQuery => ({
  text: `SELECT k.position::text AS position, k.log_id::text AS log_id, ${ROW_COLUMNS},
                l.at < $4 AS old,
                EXISTS (SELECT 1 FROM ${s}.feed_consumers f
                         WHERE f.source = 'log' AND NOT pg_visible_in_snapshot(l.txid, f.snapshot::pg_snapshot)) AS owed
           FROM ${s}.seal_leaves k LEFT JOIN ${s}.log l ON l.id = k.log_id
          WHERE k.origin = $1 AND k.position >= $2 AND k.position < $3
          ORDER BY k.position`,
  values: [origin, from, to, before],
});

export interface ArchiveRecord {
  from_position: string;
  to_position: string;
  checkpoint_size: string;
  file: string;
  sha256: string;
  rows: string;
  deleted: boolean;
}

export const archivesSql = (s: string, origin: string): SqlQuery => ({
  text: `SELECT from_position::text AS from_position, to_position::text AS to_position,
                checkpoint_size::text AS checkpoint_size, file, sha256, rows::text AS rows, deleted
           FROM ${s}.log_archives a WHERE a.origin = $1 ORDER BY a.from_position`,
  values: [origin],
});

export const checkpointSizesSql = (s: string, origin: string): SqlQuery => ({
  // ORDER BY the column, not the text alias (as text, '10' sorts before '8').
  text: `SELECT c.tree_size::text AS tree_size FROM ${s}.checkpoints c WHERE c.origin = $1 ORDER BY c.tree_size`,
  values: [origin],
});

export const insertArchiveSql = (
  s: string,
  origin: string,
  a: { from: number; to: number; checkpointSize: number; file: string; sha256: string; rows: number },
  at: Date,
): SqlQuery => ({
  text: `INSERT INTO ${s}.log_archives (origin, from_position, to_position, checkpoint_size, file, sha256, rows, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (origin, from_position) DO UPDATE
           SET to_position = EXCLUDED.to_position, checkpoint_size = EXCLUDED.checkpoint_size,
               file = EXCLUDED.file, sha256 = EXCLUDED.sha256, rows = EXCLUDED.rows, archived_at = EXCLUDED.archived_at
           WHERE NOT ${s}.log_archives.deleted`,
  values: [origin, a.from, a.to, a.checkpointSize, a.file, a.sha256, a.rows, at],
});

/** Deletes the log rows at tree positions [from, to): one bounded statement. */
export const deleteLogRangeSql = (s: string, origin: string, from: number, to: number): SqlQuery => ({
  text: `WITH d AS (DELETE FROM ${s}.log l USING ${s}.seal_leaves k
                     WHERE k.origin = $1 AND k.position >= $2 AND k.position < $3 AND l.id = k.log_id
                     RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
  values: [origin, from, to],
});

export const markDeletedSql = (s: string, origin: string, from: number): SqlQuery => ({
  text: `UPDATE ${s}.log_archives SET deleted = true WHERE origin = $1 AND from_position = $2`,
  values: [origin, from],
});

/** Every origin the log is sealed under (one seal_state row each). */
export const originsSql = (s: string): SqlQuery => ({
  text: `SELECT origin FROM ${s}.seal_state ORDER BY origin`,
});

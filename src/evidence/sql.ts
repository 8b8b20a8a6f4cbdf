import type { SqlQuery } from '../db/types.js';

// The sealer's tables (seal_leaves, seal_state, checkpoints) are migration 9 (src/schema/migrations.ts).

/** The leaf columns of log rows (as `LogRowLeaf`): JSON as stored text, the time in UTC to the µs. */
const LEAF_COLUMNS = `l.id::text AS id, l.entity_type, l.entity_key, l.version::text AS version, l.action, l.actor,
  l.source_ip, l.reason, l.request_id, l.command_id, l.before::text AS before, l.after::text AS after,
  l.before_delta, l.changed, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`;

export function leafRowsByIdSql(s: string, ids: readonly string[]): SqlQuery {
  return { text: `SELECT ${LEAF_COLUMNS} FROM ${s}.log l WHERE l.id = ANY($1::bigint[])`, values: [ids] };
}

/** Tree positions [from, to) with their log rows; a position whose row is gone has NULL columns. */
export function leavesInTreeOrderSql(s: string, origin: string, from: number, to: number): SqlQuery {
  return {
    text: `SELECT k.position::text AS position, ${LEAF_COLUMNS}
             FROM ${s}.seal_leaves k LEFT JOIN ${s}.log l ON l.id = k.log_id
            WHERE k.origin = $1 AND k.position >= $2 AND k.position < $3
            ORDER BY k.position`,
    values: [origin, from, to],
  };
}

export function lockStateSql(s: string, origin: string): SqlQuery {
  return {
    text: `SELECT tree_size::text AS tree_size, frontier FROM ${s}.seal_state WHERE origin = $1 FOR UPDATE`,
    values: [origin],
  };
}

export function saveStateSql(s: string, origin: string, size: number, frontier: unknown): SqlQuery {
  return {
    text: `INSERT INTO ${s}.seal_state (origin, tree_size, frontier) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (origin) DO UPDATE SET tree_size = EXCLUDED.tree_size, frontier = EXCLUDED.frontier`,
    values: [origin, size, JSON.stringify(frontier)],
  };
}

export function insertLeavesSql(s: string, origin: string, first: number, ids: readonly string[]): SqlQuery {
  return {
    text: `INSERT INTO ${s}.seal_leaves (origin, position, log_id)
           SELECT $1, $2::bigint + t.n - 1, t.id FROM unnest($3::bigint[]) WITH ORDINALITY AS t(id, n)`,
    values: [origin, first, ids],
  };
}

export function latestCheckpointSql(s: string, origin: string): SqlQuery {
  return {
    // ORDER BY the column, not the text alias (as text, '8' sorts after '14').
    text: `SELECT c.tree_size::text AS tree_size, c.note FROM ${s}.checkpoints c
            WHERE c.origin = $1 ORDER BY c.tree_size DESC LIMIT 1`,
    values: [origin],
  };
}

export function checkpointsSql(s: string, origin: string): SqlQuery {
  return {
    text: `SELECT note FROM ${s}.checkpoints WHERE origin = $1 ORDER BY tree_size`,
    values: [origin],
  };
}

export function insertCheckpointSql(
  s: string,
  origin: string,
  size: number,
  root: string,
  at: Date,
  note: string,
) {
  return {
    text: `INSERT INTO ${s}.checkpoints (origin, tree_size, root_hash, at, note) VALUES ($1, $2, $3, $4, $5)`,
    values: [origin, size, root, at, note],
  };
}

export function stateSizeSql(s: string, origin: string): SqlQuery {
  return {
    text: `SELECT tree_size::text AS tree_size FROM ${s}.seal_state WHERE origin = $1`,
    values: [origin],
  };
}

export function sealedCountSql(s: string, origin: string): SqlQuery {
  return { text: `SELECT count(*)::text AS n FROM ${s}.seal_leaves WHERE origin = $1`, values: [origin] };
}

/** The tree position of a log row in a log's tree, if it was appended. */
export function positionOfSql(s: string, origin: string, logId: string): SqlQuery {
  return {
    text: `SELECT position::text AS position FROM ${s}.seal_leaves WHERE origin = $1 AND log_id = $2`,
    values: [origin, logId],
  };
}

/** The log row id of an entity's version. */
export function logIdOfSql(s: string, entityType: string, entityKey: string, version: number): SqlQuery {
  return {
    text: `SELECT id::text AS id FROM ${s}.log WHERE entity_type = $1 AND entity_key = $2 AND version = $3`,
    values: [entityType, entityKey, version],
  };
}

/** Log ids above the newest sealed one: an estimate of the rows waiting (both maxima are index probes). */
export function unsealedEstimateSql(s: string, origin: string): SqlQuery {
  return {
    text: `SELECT greatest(0, coalesce((SELECT max(id) FROM ${s}.log), 0)
                  - coalesce((SELECT max(log_id) FROM ${s}.seal_leaves WHERE origin = $1), 0))::text AS n`,
    values: [origin],
  };
}

/** Log rows not in the tree at all (not yet appended by the sealer): exact, one pass over the log. */
export function unappendedCountSql(s: string, origin: string): SqlQuery {
  return {
    text: `SELECT count(*)::text AS n FROM ${s}.log l
            WHERE NOT EXISTS (SELECT 1 FROM ${s}.seal_leaves k WHERE k.origin = $1 AND k.log_id = l.id)`,
    values: [origin],
  };
}

/** The roots of chunks completed by one sealer batch (migration 12). */
export function insertChunksSql(
  s: string,
  origin: string,
  chunks: readonly { chunk: number; root: string }[],
): SqlQuery {
  return {
    text: `INSERT INTO ${s}.seal_chunks (origin, chunk, root)
           SELECT $1, t.chunk, t.root FROM unnest($2::bigint[], $3::text[]) AS t(chunk, root)`,
    values: [origin, chunks.map((c) => c.chunk), chunks.map((c) => c.root)],
  };
}

/** The chunk roots [0, count), in order. */
export function chunkRootsSql(s: string, origin: string, count: number): SqlQuery {
  return {
    text: `SELECT root FROM ${s}.seal_chunks WHERE origin = $1 AND chunk < $2 ORDER BY chunk`,
    values: [origin, count],
  };
}

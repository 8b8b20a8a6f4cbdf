import { logHashSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';

/**
 * Tree positions in [from, to) whose log row is gone, or whose chain hash no longer matches the row
 * (the same expression that wrote it): the likely places of a change `tally verify` found between two
 * checkpoints. A writer who also recomputed the chain leaves none here; the tree still caught the change.
 */
export function suspectRowsSql(s: string, origin: string, from: number, to: number, limit: number): SqlQuery {
  return {
    text: `SELECT k.position::text AS position, k.log_id::text AS log_id, l.entity_type, l.entity_key,
                  l.version::text AS version
             FROM ${s}.seal_leaves k LEFT JOIN ${s}.log l ON l.id = k.log_id
            WHERE k.origin = $1 AND k.position >= $2 AND k.position < $3
              AND (l.id IS NULL OR l.hash IS DISTINCT FROM ${logHashSql('l')})
            ORDER BY k.position LIMIT $4`,
    values: [origin, from, to, limit],
  };
}

import { ADOPT_ACTION } from '../changes/adopt-sql.js';
import { fullBeforeSql, hashOkSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';

/**
 * Tree positions in [from, to) whose log row is gone, or no longer fits where it stands: a chained row
 * whose hash no longer matches it (the expression that wrote it), a row without a hash written while the
 * chain was kept (its hash stripped), or — for every row, chained or not (decision 0065) — a row whose
 * entity has no entry at the version before it (not a genesis entry) or whose before image is not that
 * entry's after image. These are the likely places of a change `tally verify` found between two
 * checkpoints. A writer who rewrote a row's metadata (actor, time, reason) or recomputed the chain
 * leaves none here; the tree still caught the change, and the positions bound where.
 */
export function suspectRowsSql(s: string, origin: string, from: number, to: number, limit: number): SqlQuery {
  return {
    text: `SELECT k.position::text AS position, k.log_id::text AS log_id, l.entity_type, l.entity_key,
                  l.version::text AS version
             FROM ${s}.seal_leaves k LEFT JOIN ${s}.log l ON l.id = k.log_id
             LEFT JOIN ${s}.log p ON p.entity_type = l.entity_type AND p.entity_key = l.entity_key
                                 AND p.version = l.version - 1
            WHERE k.origin = $1 AND k.position >= $2 AND k.position < $3
              AND (l.id IS NULL OR NOT ${hashOkSql(s, 'l')}
                   OR (p.id IS NULL AND l.version > 1 AND l.action <> '${ADOPT_ACTION}')
                   OR (p.id IS NOT NULL AND ${fullBeforeSql('l')} IS DISTINCT FROM p.after))
            ORDER BY k.position LIMIT $4`,
    values: [origin, from, to, limit],
  };
}

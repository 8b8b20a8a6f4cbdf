import type { SqlQuery } from '../db/types.js';

/**
 * Where given log rows sit in each sealed tree: one probe of seal_leaves' UNIQUE (origin, log_id) per
 * origin and row (seal_state lists the origins, a handful).
 */
export function positionsOfSql(s: string, logIds: readonly string[]): SqlQuery {
  return {
    text: `SELECT k.origin, k.log_id::text AS log_id, k.position::text AS position
             FROM ${s}.seal_state o JOIN ${s}.seal_leaves k ON k.origin = o.origin AND k.log_id = ANY($1::bigint[])
            ORDER BY k.origin, k.position`,
    values: [logIds],
  };
}

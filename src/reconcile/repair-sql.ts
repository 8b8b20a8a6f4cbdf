import type { EntityDefinition } from '../changes/definition.js';
import { insertLogSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';
import { differsSql } from './sql.js';

/** Locks the rows to repair in key order (as every Tally change does) and returns the keys found. */
export const lockKeysSql = (def: EntityDefinition, keyType: string, keys: readonly string[]): SqlQuery => ({
  text: `SELECT k FROM (SELECT t.${def.key.sql}::text AS k FROM ${def.table.sql} t
                         WHERE t.${def.key.sql} = ANY($1::${keyType}[])
                         ORDER BY t.${def.key.sql} FOR NO KEY UPDATE OF t) locked`,
  values: [keys],
});

/**
 * Repairs the locked rows the log does not explain, in one statement: re-checks each row against its last
 * log entry (so a stale plan never repairs a row that is right by now), sets the row's version to the
 * next log version, and appends a `repair` entry (before = the log's last after image, after = the row)
 * at the next version, with the same builder every Tally change uses (no hash since decision 0065). Rows whose log is
 * ahead of them are left alone: which side is right is a person's call. Rows whose log entries are
 * missing (ahead of their log, or no log) are repaired only with `acceptMissingLog`: they may be a deletion.
 */
export function repairSql(
  s: string,
  def: EntityDefinition,
  keyType: string,
  columns: ReadonlyMap<string, string>,
  p: {
    keys: readonly string[];
    /** Also repair rows whose log entries are missing (ahead of their log, or none at all). */
    acceptMissingLog: boolean;
    actor: string;
    reason: string;
    at: Date;
    requestId: string | null;
  },
): SqlQuery {
  const { table, key, version } = def;
  const source = `
    SELECT $2::text AS entity_type, u.k::text AS entity_key, u.v AS version, 'repair'::text AS action,
           $3::text AS actor, NULL::text AS source_ip, $4::text AS reason, $6::text AS request_id,
           NULL::text AS command_id, n.la AS before, u.after,
           ARRAY(SELECT e.key FROM jsonb_each(u.after) e WHERE e.value IS DISTINCT FROM n.la -> e.key ORDER BY e.key) AS changed,
           $5::timestamptz AS at
      FROM upd u JOIN need n ON n.k = u.k`;
  return {
    text: `
    WITH h AS (
      SELECT t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS img,
             last.version::int8 AS lv, last.after AS la,
             coalesce(${differsSql(columns, 't', 'last')}, false) AS differs
        FROM ${table.sql} t
        LEFT JOIN LATERAL (SELECT x.version, x.after FROM ${s}.log x
                            WHERE x.entity_type = $2 AND x.entity_key = t.${key.sql}::text
                            ORDER BY x.version DESC LIMIT 1) last ON true
       WHERE t.${key.sql} = ANY($1::${keyType}[])
    ),
    need AS (
      SELECT * FROM h
       WHERE (h.lv = h.v AND h.differs)${p.acceptMissingLog ? ' OR (h.lv IS NULL AND h.v > 0) OR h.lv < h.v' : ''}
    ),
    upd AS (
      UPDATE ${table.sql} t SET ${version.sql} = coalesce(n.lv, 0) + 1
        FROM need n WHERE t.${key.sql} = n.k
      RETURNING t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS after
    ),
    ins AS (${insertLogSql(s, source)} RETURNING entity_key)
    SELECT (SELECT count(*)::int FROM upd) AS updated, (SELECT count(*)::int FROM ins) AS logged,
           coalesce((SELECT json_agg(entity_key ORDER BY entity_key) FROM ins), '[]') AS keys`,
    values: [p.keys, def.name, p.actor, p.reason, p.at, p.requestId],
  };
}

/** The planned keys that have no row (checked for the whole plan before the first write). */
export const missingKeysSql = (
  def: EntityDefinition,
  keyType: string,
  keys: readonly string[],
): SqlQuery => ({
  text: `SELECT k.k AS k FROM unnest($1::${keyType}[]) AS k(k)
          WHERE NOT EXISTS (SELECT 1 FROM ${def.table.sql} t WHERE t.${def.key.sql} = k.k) LIMIT 100`,
  values: [keys],
});

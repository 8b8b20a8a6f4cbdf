import { ADOPT_ACTION } from '../changes/adopt-sql.js';
import type { EntityDefinition } from '../changes/definition.js';
import type { SqlQuery } from '../db/types.js';

/**
 * SQL of the state <-> log check. The hot statement is one hash join of the table's rows with the log
 * rows at or after each row's version (see docs/decisions/0050-reconcile-state-log.md); everything else
 * runs on the few keys it flags, or as index-only scans of the log.
 */

/** A column name read from the catalog, quoted (it never comes from a caller). */
export const catalogIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
/** A SQL string literal of a catalog name (a jsonb key). */
export const catalogLiteral = (name: string): string => `'${name.replace(/'/g, "''")}'`;

// Types whose text form equals the text jsonb gives (`after ->> col`): comparing text skips building a
// jsonb value per row, which doubled the cost of the check. Other types compare as jsonb values.
const TEXT_EXACT = new Set(['text', 'varchar', 'int2', 'int4', 'int8', 'numeric', 'bool', 'uuid']);

/** `true` when row `t` differs from after image `l.after` in any tracked column. */
export function differsSql(columns: ReadonlyMap<string, string>, t: string, l: string): string {
  if (columns.size === 0) return 'false';
  const parts = [...columns].map(([c, type]) => {
    const col = `${t}.${catalogIdent(c)}`;
    const text = `(${l}.after ->> ${catalogLiteral(c)})`;
    if (TEXT_EXACT.has(type)) return `${text} IS DISTINCT FROM ${col}::text`;
    // jsonb renders a timestamptz in the writing session's TimeZone: compare the instants, not the texts.
    if (type === 'timestamptz') return `${text}::timestamptz IS DISTINCT FROM ${col}`;
    return `(${l}.after -> ${catalogLiteral(c)}) IS DISTINCT FROM to_jsonb(${col})`;
  });
  return `(${parts.join(' OR ')})`;
}

/**
 * `true` when the row version `t` provably is the one the statement that wrote log entry `l` wrote
 * (decision 0057): the same transaction id and command id in both tuple headers. Every Tally writer writes
 * a row and its entry in one statement (one command id), and any later write of the row, even in the same
 * transaction, gives it a new command id. A tuple whose `xmax` is neither empty nor its own `xmin` may
 * hold a combo command id in the `cmin` field instead (a write of it rolled back in a savepoint of its own
 * transaction) — such a tuple is never taken as proof.
 */
export function untouchedSql(t: string, l: string): string {
  const plain = (x: string) => `(${x}.xmax = '0'::xid OR ${x}.xmax = ${x}.xmin)`;
  return `(${t}.xmin = ${l}.xmin AND ${t}.cmin = ${l}.cmin AND ${plain(t)} AND ${plain(l)})`;
}

/**
 * Whether a relation has tuple headers to read (`xmin` in its catalog columns): tables and partitioned
 * tables do; an entity declared on a view does not, and is then compared column by column throughout.
 */
export const hasHeadersSql = (table: string): SqlQuery => ({
  text: `SELECT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = 'xmin') AS headers`,
  values: [table],
});

/** An estimate of a table's rows (planner statistics), or an exact count when it was never analyzed. */
export const rowEstimateSql = (table: string): SqlQuery => ({
  text: `SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 ELSE (SELECT count(*) FROM ${table}) END AS n
           FROM pg_class c WHERE c.oid = to_regclass($1)`,
  values: [table],
});

/** The last key of the next chunk of `size` rows after `lo` (null: the rest of the table is the last chunk). */
export function chunkEndSql(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  size: number,
): SqlQuery {
  const k = `t.${def.key.sql}`;
  return {
    text: `SELECT ${k}::text AS hi FROM ${def.table.sql} t ${lo === null ? '' : `WHERE ${k} > $2::${keyType}`}
            ORDER BY ${k} OFFSET $1 LIMIT 1`,
    values: lo === null ? [size - 1] : [size - 1, lo],
  };
}

function rangeOf(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
  values: unknown[],
) {
  const k = `t.${def.key.sql}`;
  const range: string[] = [];
  if (lo !== null) range.push(`${k} > $${values.push(lo)}::${keyType}`);
  if (hi !== null) range.push(`${k} <= $${values.push(hi)}::${keyType}`);
  return range.length ? `WHERE ${range.join(' AND ')}` : '';
}

/**
 * One chunk (key range `(lo, hi]`) of the state <-> log check: each row joined with its entity's log rows
 * at or after the row's version. A row is explained when exactly the entry at its version matches it in
 * every tracked column. Returned, as [key, row version, log version]: rows with no entry at or after a
 * version >= 1 (log rows missing), with an entry after the row's version (log ahead), or whose entry at
 * its version differs — compared column by column only when the tuple headers do not prove the row
 * untouched since that entry (`untouchedSql`, decision 0057). The filter sits on the join itself and the
 * rows come back as rows: the same check as an aggregate (json_agg ... FILTER) ran twice as long.
 */
export function stateChunkSql(
  s: string,
  def: EntityDefinition,
  keyType: string,
  columns: ReadonlyMap<string, string>,
  lo: string | null,
  hi: string | null,
  headers = true,
): SqlQuery {
  const k = `t.${def.key.sql}`;
  const v = `t.${def.version.sql}`;
  const values: unknown[] = [def.name];
  const proof = headers ? ` AND NOT ${untouchedSql('t', 'l')}` : '';
  const where = rangeOf(def, keyType, lo, hi, values);
  // The header proof first: the column comparison runs only for rows it cannot vouch for (AND is
  // evaluated left to right with short-circuit inside one expression).
  const drift = `(l.id IS NULL AND ${v} > 0) OR l.version > ${v} OR (l.version = ${v}${proof} AND ${differsSql(columns, 't', 'l')})`;
  return {
    text: `SELECT ${k}::text AS k, ${v}::int8 AS v, l.version::int8 AS lv
             FROM ${def.table.sql} t
             LEFT JOIN ${s}.log l ON l.entity_type = $1 AND l.entity_key = ${k}::text AND l.version >= ${v}
            ${where ? `${where} AND (${drift})` : `WHERE ${drift}`}`,
    values,
  };
}

/** The chunk's rows, and how many are at version >= 1 (each such row that is not flagged has a log). */
export function chunkCountSql(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
): SqlQuery {
  const values: unknown[] = [];
  const where = rangeOf(def, keyType, lo, hi, values);
  return {
    text: `SELECT count(*)::int8 AS n, count(*) FILTER (WHERE t.${def.version.sql} > 0)::int8 AS versioned
             FROM ${def.table.sql} t ${where}`,
    values,
  };
}

/**
 * The log side, as index-only scans of (entity_type, entity_key, version): entries whose predecessor is
 * missing (version gaps, deleted first rows), and how many keys have a first entry. An entity adopted with
 * history starts its chain with a genesis entry at its version at adoption (decision 0053): such an entry
 * has no predecessor by design and is not a gap. Only the entries the index-only anti-join finds are
 * looked up in the log's heap for that, and they come back as one count, not as rows: the last row (key
 * NULL) carries `without_first`, the keys whose chain does not start at entry 1 — one per genesis entry
 * (adoption writes one per key, for keys without entries), plus the gap keys without an entry 1 (a key
 * counted twice only makes the orphan search below run).
 */
export const gapsSql = (s: string, entityType: string): SqlQuery => ({
  text: `WITH g AS (
           SELECT l.entity_key AS key, l.version::int8 AS version,
                  EXISTS (SELECT 1 FROM ${s}.log f WHERE f.entity_type = $1 AND f.entity_key = l.entity_key AND f.version = 1) AS has_first,
                  EXISTS (SELECT 1 FROM ${s}.log a WHERE a.entity_type = $1 AND a.entity_key = l.entity_key
                             AND a.version = l.version AND a.action = '${ADOPT_ACTION}') AS genesis
             FROM ${s}.log l
            WHERE l.entity_type = $1 AND l.version > 1
              AND NOT EXISTS (SELECT 1 FROM ${s}.log p
                               WHERE p.entity_type = $1 AND p.entity_key = l.entity_key AND p.version = l.version - 1)
         )
         SELECT key, version, has_first, NULL::int8 AS without_first FROM g WHERE NOT genesis
         UNION ALL
         SELECT NULL, NULL, NULL, count(*) FILTER (WHERE genesis)
                                  + count(DISTINCT key) FILTER (WHERE NOT has_first AND NOT genesis) FROM g
          ORDER BY 1, 2`,
  values: [entityType],
});

export const firstEntriesSql = (s: string, entityType: string): SqlQuery => ({
  text: `SELECT count(*) FILTER (WHERE version = 1)::int8 AS n, count(*)::int8 AS entries
           FROM ${s}.log WHERE entity_type = $1`,
  values: [entityType],
});

/** Keys with log entries and no row (run only when the counts say there are some); a key's chain starts at entry 1 or a genesis entry. */
export const orphansSql = (s: string, def: EntityDefinition, gapKeys: readonly string[]): SqlQuery => ({
  text: `SELECT DISTINCT l.entity_key AS key FROM ${s}.log l
          WHERE l.entity_type = $1 AND (l.version = 1 OR l.action = '${ADOPT_ACTION}' OR l.entity_key = ANY($2::text[]))
            AND NOT EXISTS (SELECT 1 FROM ${def.table.sql} t WHERE t.${def.key.sql}::text = l.entity_key)`,
  values: [def.name, gapKeys],
});

/** What the findings say about a few flagged keys: the row, and the log's last entry and extent. */
export const detailsSql = (
  s: string,
  def: EntityDefinition,
  keyType: string,
  keys: readonly string[],
): SqlQuery => ({
  text: `SELECT k.k AS key, t.${def.version.sql}::int8 AS row_version, to_jsonb(t) AS row_image,
                h.version::int8 AS last_version, h.after AS last_after, h.action AS last_action,
                (SELECT count(*) FROM ${s}.log c WHERE c.entity_type = $1 AND c.entity_key = k.k)::int8 AS entries
           FROM unnest($2::text[]) AS k(k)
           LEFT JOIN ${def.table.sql} t ON t.${def.key.sql} = k.k::${keyType}
           LEFT JOIN LATERAL (SELECT x.version, x.after, x.action FROM ${s}.log x
                               WHERE x.entity_type = $1 AND x.entity_key = k.k ORDER BY x.version DESC LIMIT 1) h ON true`,
  values: [def.name, keys],
});

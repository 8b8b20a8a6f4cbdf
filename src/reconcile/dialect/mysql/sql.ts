import { ADOPT_ACTION } from '../../../changes/adopt-sql.js';
import type { EntityDefinition } from '../../../changes/definition.js';
import { imageSql } from '../../../changes/dialect/mysql/sql.js';
import type { TableShape } from '../../../changes/introspect.js';
import { backticked } from '../../../db/mysql/names.js';
import type { SqlQuery } from '../../../db/types.js';

/**
 * The reconciler's statements on MySQL 8.0 / MariaDB (decision 0137), written to what both share: no
 * LATERAL (MariaDB), no arrays, no `FILTER`, no data-modifying CTEs; `?` placeholders, a list value
 * expands to `IN (…)` (never empty: callers do not send an empty list). `log` is Tally's log table
 * (`tallyTable(schemaName, 'log')`). Keys reach the log as the canonical text the writers store.
 */

/** A key column as the text the log stores, in the log's own collation (as the writers build it). */
export const keyText = (def: EntityDefinition, t = 't'): string =>
  `CAST(${t}.${backticked(def.key.sql)} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`;

/** A JSON value as text compared byte for byte (MariaDB stores JSON as text; MySQL renders its binary JSON). */
const jsonText = (x: string) => `CAST(${x} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`;
/** A catalog name as a SQL string literal, and as a JSON path member. */
const literal = (name: string) => `'${name.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
const path = (name: string) => literal(`$."${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
/** Column `c` of row `t` as the writers put it in an image, and member `c` of image `img`. */
const rowValue = (t: string, c: string) =>
  jsonText(`JSON_EXTRACT(JSON_OBJECT(${literal(c)}, ${t}.\`${c}\`), ${path(c)})`);
const imageValue = (img: string, c: string) => jsonText(`JSON_EXTRACT(${img}, ${path(c)})`);

/** A key given as text, compared with the key column (integers as integers, so an index range serves). */
const keyParam = (keyType: string) => (/^int[248]$/.test(keyType) ? 'CAST(? AS SIGNED)' : '?');

/**
 * `true` when row `t` differs from after image `img` in any tracked column: each column rendered through
 * JSON_OBJECT, as the writers render it into the images, and compared as text with the image's member
 * (both come from the server's own JSON functions, so equal values have equal text; a missing member and a
 * JSON null are both SQL NULL on MariaDB). The flagged keys are compared again, parsed, before reporting.
 */
export function differsSql(columns: ReadonlyMap<string, string>, t: string, img: string): string {
  if (columns.size === 0) return 'FALSE';
  const parts = [...columns.keys()].map((c) => `NOT (${rowValue(t, c)} <=> ${imageValue(img, c)})`);
  return `(${parts.join(' OR ')})`;
}

/**
 * The table's rows for chunking and progress: InnoDB's estimate (`TABLE_ROWS`), or an exact count when the
 * estimate is under a million — InnoDB's figure for a small or fresh table can be far off, and an estimate
 * within one chunk makes the whole table one chunk.
 */
export const rowEstimateSql = (def: EntityDefinition): SqlQuery => ({
  text: `SELECT CASE WHEN e.n >= 1000000 THEN e.n ELSE (SELECT COUNT(*) FROM ${backticked(def.table.sql)}) END AS n
           FROM (SELECT COALESCE((SELECT TABLE_ROWS FROM information_schema.TABLES
                                   WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?), 0) AS n) e`,
  values: [def.table.schema, def.table.name],
});

export function chunkEndSql(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  size: number,
): SqlQuery {
  const k = `t.${backticked(def.key.sql)}`;
  return {
    text: `SELECT ${keyText(def)} AS hi FROM ${backticked(def.table.sql)} t
            ${lo === null ? '' : `WHERE ${k} > ${keyParam(keyType)}`} ORDER BY ${k} LIMIT 1 OFFSET ?`,
    values: lo === null ? [size - 1] : [lo, size - 1],
  };
}

function rangeOf(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
  values: unknown[],
) {
  const k = `t.${backticked(def.key.sql)}`;
  const range: string[] = [];
  if (lo !== null) {
    range.push(`${k} > ${keyParam(keyType)}`);
    values.push(lo);
  }
  if (hi !== null) {
    range.push(`${k} <= ${keyParam(keyType)}`);
    values.push(hi);
  }
  return range;
}

/**
 * One chunk of the state <-> log check: each row joined with its log rows at or after its version (an
 * index range on the log's (entity_type, entity_key, version) per row). Returned: rows with no entry at
 * or after a version >= 1, with an entry after their version, or whose entry at their version differs.
 * No tuple headers here: every row with an entry at its version is compared column by column.
 */
export function stateChunkSql(
  log: string,
  def: EntityDefinition,
  keyType: string,
  columns: ReadonlyMap<string, string>,
  lo: string | null,
  hi: string | null,
): SqlQuery {
  const v = `t.${backticked(def.version.sql)}`;
  const values: unknown[] = [def.name];
  const range = rangeOf(def, keyType, lo, hi, values);
  const drift = `((l.id IS NULL AND ${v} > 0) OR l.version > ${v} OR (l.version = ${v} AND ${differsSql(columns, 't', 'l.`after`')}))`;
  return {
    text: `SELECT ${keyText(def)} AS k, ${v} AS v, l.version AS lv
             FROM ${backticked(def.table.sql)} t
             LEFT JOIN ${log} l ON l.entity_type = ? AND l.entity_key = ${keyText(def)} AND l.version >= ${v}
            WHERE ${[...range, drift].join(' AND ')}`,
    values,
  };
}

export function chunkCountSql(
  def: EntityDefinition,
  keyType: string,
  lo: string | null,
  hi: string | null,
): SqlQuery {
  const values: unknown[] = [];
  const range = rangeOf(def, keyType, lo, hi, values);
  return {
    text: `SELECT COUNT(*) AS n, COALESCE(SUM(t.${backticked(def.version.sql)} > 0), 0) AS versioned
             FROM ${backticked(def.table.sql)} t ${range.length ? `WHERE ${range.join(' AND ')}` : ''}`,
    values,
  };
}

/** The log side's gaps, as on PostgreSQL (sql.ts `gapsSql`): the last row (key NULL) counts the keys not starting at 1. */
export const gapsSql = (log: string, entityType: string): SqlQuery => ({
  text: `WITH g AS (
           SELECT l.entity_key AS \`key\`, l.version AS version,
                  EXISTS (SELECT 1 FROM ${log} f WHERE f.entity_type = ? AND f.entity_key = l.entity_key AND f.version = 1) AS has_first,
                  l.action = '${ADOPT_ACTION}' AS genesis
             FROM ${log} l
            WHERE l.entity_type = ? AND l.version > 1
              AND NOT EXISTS (SELECT 1 FROM ${log} p
                               WHERE p.entity_type = ? AND p.entity_key = l.entity_key AND p.version = l.version - 1)
         )
         SELECT \`key\`, version, has_first, NULL AS without_first FROM g WHERE NOT genesis
         UNION ALL
         SELECT NULL, NULL, NULL, COALESCE(SUM(genesis), 0)
                                  + COUNT(DISTINCT CASE WHEN NOT has_first AND NOT genesis THEN \`key\` END) FROM g
          ORDER BY 1, 2`,
  values: [entityType, entityType, entityType],
});

export const firstEntriesSql = (log: string, entityType: string): SqlQuery => ({
  text: `SELECT COALESCE(SUM(version = 1), 0) AS n, COUNT(*) AS entries FROM ${log} WHERE entity_type = ?`,
  values: [entityType],
});

/**
 * Keys with log entries and no row. The table's keys as the log's text (a derived table the server keys
 * for the anti-join), so the comparison never mixes the table's collation with the log's.
 */
export function orphansSql(log: string, def: EntityDefinition, gapKeys: readonly string[]): SqlQuery {
  return {
    text: `SELECT DISTINCT l.entity_key AS \`key\` FROM ${log} l
             LEFT JOIN (SELECT ${keyText(def)} AS k FROM ${backticked(def.table.sql)} t) r ON r.k = l.entity_key
            WHERE l.entity_type = ? AND r.k IS NULL
              AND (l.version = 1 OR l.action = '${ADOPT_ACTION}'${gapKeys.length ? ' OR l.entity_key IN (?)' : ''})`,
    values: gapKeys.length ? [def.name, [...gapKeys]] : [def.name],
  };
}

/** The rows of a few keys: canonical key, version, image (as the writers build it). */
export const rowsOfSql = (def: EntityDefinition, shape: TableShape, keys: readonly string[]): SqlQuery => ({
  text: `SELECT ${keyText(def)} AS k, t.${backticked(def.version.sql)} AS v, ${imageSql(shape)} AS img
           FROM ${backticked(def.table.sql)} t WHERE t.${backticked(def.key.sql)} IN (?)`,
  values: [[...keys]],
});

/** The log's last entry and extent of a few keys. */
export const lastEntriesSql = (log: string, entityType: string, keys: readonly string[]): SqlQuery => ({
  text: `SELECT l.entity_key AS k, l.version, l.\`after\` AS after_image, l.action, m.n
           FROM (SELECT entity_key, MAX(version) AS mv, COUNT(*) AS n FROM ${log}
                  WHERE entity_type = ? AND entity_key IN (?) GROUP BY entity_key) m
           JOIN ${log} l ON l.entity_type = ? AND l.entity_key = m.entity_key AND l.version = m.mv`,
  values: [entityType, [...keys], entityType],
});

export const logIdRangeSql = (log: string, entityType: string): SqlQuery => ({
  text: `SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM ${log} WHERE entity_type = ?`,
  values: [entityType],
});

/**
 * Entries with ids in [lo, hi] whose before image is not, as text, the previous entry's after image: the
 * candidates of the chain check, compared again parsed (chain.ts) since equal JSON may be written
 * differently. MySQL logs carry no hashes (decision 0065 predates them), so only the images are checked.
 */
export const imageCandidatesSql = (log: string, entityType: string, lo: number, hi: number): SqlQuery => ({
  text: `SELECT l.entity_key AS \`key\`, l.version, l.\`before\` AS before_image, p.\`after\` AS prev_after
           FROM ${log} l
           JOIN ${log} p ON p.entity_type = l.entity_type AND p.entity_key = l.entity_key AND p.version = l.version - 1
          WHERE l.entity_type = ? AND l.id BETWEEN ? AND ?
            AND NOT (${jsonText('l.`before`')} <=> ${jsonText('p.`after`')})
          ORDER BY l.entity_key, l.version`,
  values: [entityType, lo, hi],
});

/** Locks the rows in key order, as every change does; the canonical keys found. */
export const lockKeysSql = (def: EntityDefinition, keys: readonly string[]): SqlQuery => ({
  text: `SELECT ${keyText(def)} AS k FROM ${backticked(def.table.sql)} t
          WHERE t.${backticked(def.key.sql)} IN (?) ORDER BY t.${backticked(def.key.sql)} FOR UPDATE`,
  values: [[...keys]],
});

/** The existing keys among a few (canonical text). */
export const existingKeysSql = (def: EntityDefinition, keys: readonly string[]): SqlQuery => ({
  text: `SELECT ${keyText(def)} AS k FROM ${backticked(def.table.sql)} t WHERE t.${backticked(def.key.sql)} IN (?)`,
  values: [[...keys]],
});

/** The log's last version of row `t`'s key. */
const lastVersion = (log: string, def: EntityDefinition) =>
  `(SELECT MAX(m.version) FROM ${log} m WHERE m.entity_type = ? AND m.entity_key = ${keyText(def)})`;

/**
 * The locked rows that still need a repair entry: the log's last entry at the row's version and
 * different, or (with `acceptMissingLog`) no log at a version >= 1, or a log behind the row.
 */
export function needRepairSql(
  log: string,
  def: EntityDefinition,
  columns: ReadonlyMap<string, string>,
  keys: readonly string[],
  acceptMissingLog: boolean,
): SqlQuery {
  const v = `t.${backticked(def.version.sql)}`;
  const missing = acceptMissingLog ? ` OR (l.id IS NULL AND ${v} > 0) OR l.version < ${v}` : '';
  return {
    text: `SELECT ${keyText(def)} AS k FROM ${backticked(def.table.sql)} t
             LEFT JOIN ${log} l ON l.entity_type = ? AND l.entity_key = ${keyText(def)}
                               AND l.version = ${lastVersion(log, def)}
            WHERE t.${backticked(def.key.sql)} IN (?)
              AND ((l.version = ${v} AND ${differsSql(columns, 't', 'l.`after`')})${missing})
            ORDER BY t.${backticked(def.key.sql)}`,
    values: [def.name, def.name, [...keys]],
  };
}

/** Sets each row's version to the log's last version + 1. */
export const bumpVersionSql = (log: string, def: EntityDefinition, keys: readonly string[]): SqlQuery => ({
  text: `UPDATE ${backticked(def.table.sql)} t
            SET t.${backticked(def.version.sql)} = COALESCE(${lastVersion(log, def)}, 0) + 1
          WHERE t.${backticked(def.key.sql)} IN (?)`,
  values: [def.name, [...keys]],
});

/**
 * The `repair` entries of rows just moved to their next version: before = the log's entry at the previous
 * version (its last; NULL when there is none), after = the row as it is now (triggers and ON UPDATE
 * columns included), changed = the image's members that differ from the before image, in name order.
 */
export function insertRepairLogSql(
  log: string,
  def: EntityDefinition,
  shape: TableShape,
  keys: readonly string[],
  h: { actor: string; reason: string; requestId: string | null; at: string; txid: string },
): SqlQuery {
  const members = [...shape.columns.keys()].sort();
  const changed = members.map(
    (c) =>
      `IF(p.\`after\` IS NULL OR NOT JSON_CONTAINS_PATH(p.\`after\`, 'one', ${path(c)})
          OR NOT (${rowValue('t', c)} <=> ${imageValue('p.`after`', c)}), ${literal(JSON.stringify(c))}, NULL)`,
  );
  return {
    text: `INSERT INTO ${log} (entity_type, entity_key, version, action, actor, source_ip, reason, request_id,
                               command_id, \`before\`, \`after\`, changed, at, txid)
           SELECT ?, ${keyText(def)}, t.${backticked(def.version.sql)}, 'repair', ?, NULL, ?, ?, NULL,
                  p.\`after\`, ${imageSql(shape)}, CONCAT('[', CONCAT_WS(',', ${changed.join(', ')}), ']'), ?, ?
             FROM ${backticked(def.table.sql)} t
             LEFT JOIN ${log} p ON p.entity_type = ? AND p.entity_key = ${keyText(def)}
                               AND p.version = t.${backticked(def.version.sql)} - 1
            WHERE t.${backticked(def.key.sql)} IN (?)
            ORDER BY t.${backticked(def.key.sql)}`,
    values: [def.name, h.actor, h.reason, h.requestId, h.at, h.txid, def.name, [...keys]],
  };
}

import { ADOPT_ACTION } from '../changes/adopt-sql.js';
import type { EntityDefinition } from '../changes/definition.js';
import { hashOkSql, linkOkSql } from '../changes/hash-sql.js';
import type { SqlQuery } from '../db/types.js';
import { differsSql } from './sql.js';

/**
 * Checks a batch of delivered log entries of one entity type, in one statement: each entry's hash and
 * link to its predecessor (a genesis entry of adoption has none by design, decision 0053), and its entity row (exists, is not behind the entry, matches the entry when
 * at its version, and has a log entry for its own version when ahead of it).
 */
export function entriesCheckSql(
  s: string,
  def: EntityDefinition,
  keyType: string,
  columns: ReadonlyMap<string, string>,
  keys: readonly string[],
  versions: readonly number[],
): SqlQuery {
  const k = def.key.sql;
  const v = `t.${def.version.sql}`;
  return {
    text: `
    SELECT i.key, i.version::int8 AS version, l.id IS NULL AS missing_entry, l.action,
           l.id IS NOT NULL AND NOT ${hashOkSql(s, 'l')} AS bad_hash,
           l.id IS NOT NULL AND NOT ${linkOkSql('l', 'p.hash')} AS bad_link,
           l.id IS NOT NULL AND i.version > 1 AND p.id IS NULL AND l.action <> '${ADOPT_ACTION}' AS gap,
           ${v}::int8 AS row_version,
           coalesce(${v} = i.version AND l.id IS NOT NULL AND ${differsSql(columns, 't', 'l')}, false) AS row_differs,
           coalesce(${v} > i.version AND NOT EXISTS (SELECT 1 FROM ${s}.log h WHERE h.entity_type = $1
                      AND h.entity_key = i.key AND h.version = ${v}), false) AS row_ahead
      FROM unnest($2::text[], $3::int8[]) AS i(key, version)
      LEFT JOIN ${s}.log l ON l.entity_type = $1 AND l.entity_key = i.key AND l.version = i.version
      LEFT JOIN ${s}.log p ON p.entity_type = $1 AND p.entity_key = i.key AND p.version = i.version - 1
      LEFT JOIN ${def.table.sql} t ON t.${k} = i.key::${keyType}
     ORDER BY i.key, i.version`,
    values: [def.name, keys, versions],
  };
}

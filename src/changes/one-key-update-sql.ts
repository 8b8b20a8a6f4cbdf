import type { SqlQuery } from '../db/types.js';
import type { EntityDefinition } from './definition.js';
import type { TableShape } from './introspect.js';
import { type ChangeParams, insertChangeLogSql, paramValues, sqlString } from './sql.js';

/**
 * One key's `update` (set columns) as one statement, without the lock statement (decision 0124): the
 * single-key update is what a step or a handler writes on every request, and the lock statement was one
 * of its two round trips.
 *
 * The before image is the row as the statement's snapshot saw it (`old`), joined to the UPDATE by its
 * tuple id. At READ COMMITTED an UPDATE that waited for another writer re-checks its conditions on the
 * row's newest version, whose tuple id differs from the snapshot's once anyone changed the row: the
 * join then fails, nothing is written, and the key comes back as `race` — the caller runs the change
 * again through the locks (as the single-key transition does, decision 0066). So the before image is
 * exact whenever a row is written. At REPEATABLE READ such a row fails the statement (40001) instead,
 * exactly as the two-statement path would.
 *
 * A set that changes nothing is `unchanged` (no update, no log row), a missing row `not_found`; the
 * shape of the answer is the change statement's (`updated`, `logged`, `to_change`, `others`).
 */
export function oneKeyUpdateSql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  set: Readonly<Record<string, unknown>>,
  p: Omit<ChangeParams, 'jit'>,
): SqlQuery {
  const { table, key, version } = def;
  const values: unknown[] = [...paramValues(p), JSON.stringify(set)];
  const quoted = Object.keys(set).map((c) => `"${c}"`);
  const before = Object.keys(set)
    .map((c) => `o.before -> '${c}'`)
    .join(', ');
  const after = quoted.map((q) => `to_jsonb(n.${q})`).join(', ');
  const differs = `jsonb_build_array(${before}) IS DISTINCT FROM (SELECT jsonb_build_array(${after}) FROM newv n)`;
  const insertLog = insertChangeLogSql(
    s,
    'u.before',
    `ARRAY(SELECT e.key FROM jsonb_each(u.after) e WHERE e.value IS DISTINCT FROM u.before -> e.key ORDER BY e.key)`,
    '',
  );
  const text = `
    WITH newv AS (SELECT * FROM jsonb_populate_record(NULL::${table.sql}, $10::jsonb)),
    old AS MATERIALIZED (
      SELECT t.ctid AS tid, t.${key.sql} AS k, to_jsonb(t) AS before
        FROM ${table.sql} t WHERE t.${key.sql} = ANY($1::${shape.keyType}[])
    ),
    upd AS (
      UPDATE ${table.sql} t SET ${quoted.map((q) => `${q} = n.${q}`).join(', ')}, ${version.sql} = t.${version.sql} + 1
        FROM old o, newv n
       WHERE t.ctid = o.tid AND t.${key.sql} = o.k AND ${differs}
      RETURNING t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS after, o.before
    ),
    ins AS (${insertLog} RETURNING 1),
    cnt AS (SELECT count(*)::int AS n FROM upd)
    SELECT (SELECT n FROM cnt) AS updated,
           (SELECT count(*)::int FROM ins) AS logged,
           (SELECT n FROM cnt) AS to_change,
           CASE WHEN (SELECT n FROM cnt) = 1 THEN '[]'::json ELSE
             json_build_array(json_build_array(($1::${shape.keyType}[])[1]::text,
               CASE WHEN NOT EXISTS (SELECT 1 FROM old) THEN 'not_found'
                    WHEN (SELECT NOT (${differs}) FROM old o) THEN 'unchanged'
                    ELSE 'race' END,
               (SELECT o.before ->> ${sqlString(def.state.name)} FROM old o))) END AS others`;
  return { text, values };
}

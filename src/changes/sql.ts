import type { SqlQuery } from '../db/types.js';
import type { EntityDefinition } from './definition.js';
import { insertLogSql } from './hash-sql.js';
import type { TableShape } from './introspect.js';

/** What a change does to each selected row. Both kinds run through the same statement. */
export type ChangeOp =
  | { kind: 'transition'; to: string; from: readonly string[] }
  | { kind: 'update'; set: Readonly<Record<string, unknown>> };

export interface ChangeParams {
  keys: readonly string[];
  entityType: string;
  action: string;
  actor: string;
  ip: string | null;
  reason: string | null;
  requestId: string | null;
  commandId: string | null;
  at: Date;
}

/**
 * Locks the selected rows in key order. Statement one of two: taking the locks in a fixed order means
 * overlapping batches wait for each other instead of deadlocking, and the next statement's fresh
 * snapshot then sees the latest committed row and log row of every entity it changes.
 */
export function lockRowsSql(def: EntityDefinition, shape: TableShape, keys: readonly string[]): SqlQuery {
  const { table, key } = def;
  return {
    text: `SELECT count(*)::int AS n FROM (
             SELECT 1 FROM ${table.sql} t WHERE t.${key.sql} = ANY($1::${shape.keyType}[])
              ORDER BY t.${key.sql} FOR NO KEY UPDATE OF t) locked`,
    values: [keys],
  };
}

/** Finds the keys of rows matching an equality filter, locking them in key order. */
export function lockWhereSql(
  def: EntityDefinition,
  where: readonly [column: string, values: readonly string[]][],
): SqlQuery {
  const { table, key } = def;
  const conds = where.map(([col], i) => `t.${col}::text = ANY($${i + 1}::text[])`);
  return {
    text: `SELECT coalesce(array_agg(k), '{}') AS keys FROM (
             SELECT t.${key.sql}::text AS k FROM ${table.sql} t
              WHERE ${conds.length ? conds.join(' AND ') : 'true'}
              ORDER BY t.${key.sql} FOR NO KEY UPDATE OF t) locked`,
    values: where.map(([, values]) => values),
  };
}

/**
 * Statement two: classify every key (changed / unchanged / not_found / illegal), update the changed
 * rows and insert one hash-chained log row per updated row — all in one statement, so N rows cost the
 * same number of round trips as one. With `atomic`, any rejection means nothing is updated or logged.
 */
export function changeSql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  op: ChangeOp,
  p: ChangeParams,
  atomic: boolean,
): SqlQuery {
  const { table, key, state, version } = def;
  const values: unknown[] = [
    p.keys,
    p.entityType,
    p.action,
    p.actor,
    p.ip,
    p.reason,
    p.requestId,
    p.commandId,
    p.at,
  ];
  let classify: string;
  let setList: string;
  let extraFrom = '';
  let newValues = '';
  if (op.kind === 'transition') {
    values.push(op.to, op.from);
    classify = `WHEN c.s = $10 THEN 'unchanged' WHEN c.s = ANY($11::text[]) THEN 'changed' ELSE 'illegal'`;
    setList = `${state.sql} = $10`;
  } else {
    values.push(JSON.stringify(op.set));
    const cols = Object.keys(op.set);
    const quoted = cols.map((c) => `"${c}"`);
    newValues = `, newv AS (SELECT * FROM jsonb_populate_record(NULL::${table.sql}, $10::jsonb))`;
    const before = cols.map((c) => `c.before -> '${c}'`).join(', ');
    const after = quoted.map((q) => `to_jsonb(n.${q})`).join(', ');
    classify = `WHEN jsonb_build_array(${before}) = (SELECT jsonb_build_array(${after}) FROM newv n)
                THEN 'unchanged' ELSE 'changed'`;
    setList = quoted.map((q) => `${q} = n.${q}`).join(', ');
    extraFrom = ', newv n';
  }
  const guard = atomic ? `AND NOT EXISTS (SELECT 1 FROM cls r WHERE r.st IN ('not_found', 'illegal'))` : '';
  const logSource = `
      SELECT $2::text AS entity_type, u.k::text AS entity_key, u.v AS version, $3::text AS action,
             $4::text AS actor, $5::text AS source_ip, $6::text AS reason, $7::text AS request_id,
             $8::text AS command_id, c.before, u.after,
             ARRAY(SELECT e.key FROM jsonb_each(u.after) e
                    WHERE e.value IS DISTINCT FROM c.before -> e.key ORDER BY e.key) AS changed,
             $9::timestamptz AS at, p.hash AS prev_hash
        FROM upd u
        JOIN cls c ON c.k = u.k
        LEFT JOIN ${s}.log p ON p.entity_type = $2 AND p.entity_key = u.k::text AND p.version = c.v`;
  const text = `
    WITH input AS (SELECT k FROM unnest($1::${shape.keyType}[]) AS i(k)),
    cur AS (
      SELECT t.${key.sql} AS k, t.${state.sql}::text AS s, t.${version.sql}::int8 AS v, to_jsonb(t) AS before
        FROM ${table.sql} t WHERE t.${key.sql} = ANY($1::${shape.keyType}[])
    )${newValues},
    cls AS (
      SELECT i.k, c.s, c.v, c.before, CASE WHEN c.k IS NULL THEN 'not_found' ${classify} END AS st
        FROM input i LEFT JOIN cur c ON c.k = i.k
    ),
    upd AS (
      UPDATE ${table.sql} t SET ${setList}, ${version.sql} = t.${version.sql} + 1
        FROM cls c${extraFrom}
       WHERE t.${key.sql} = c.k AND c.st = 'changed' AND t.${version.sql} = c.v ${guard}
      RETURNING t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS after
    ),
    ins AS (${insertLogSql(s, logSource)} RETURNING 1)
    SELECT (SELECT count(*)::int FROM upd) AS updated,
           (SELECT count(*)::int FROM ins) AS logged,
           (SELECT count(*)::int FROM cls WHERE st = 'changed') AS to_change,
           coalesce((SELECT json_agg(json_build_array(k::text, st, s)) FROM cls WHERE st <> 'changed'), '[]') AS others`;
  return { text, values };
}

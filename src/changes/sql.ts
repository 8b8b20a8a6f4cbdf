import type { SqlQuery } from '../db/types.js';
import type { EntityDefinition } from './definition.js';
import { type HashHeader, insertLogSql } from './hash-sql.js';
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
  /** The session's `jit` setting before the lock statement turned it off; statement two puts it back. */
  jit: string;
}

/**
 * Why statement two runs without JIT: a big batch's change statement has a high planner cost (it was a
 * previous-hash probe per row before decision 0065; the classification and images remain), so PostgreSQL JIT-compiles it with inlining and optimization: about a
 * second of compiling per 100,000 rows for a statement that runs no faster compiled. The lock
 * statement turns `jit` off for the transaction and returns the previous value; statement two's last
 * step puts it back, so the caller's own later statements keep their setting. Both statements do it
 * for one key as for many, so one key and a batch still run the same two statements.
 */
const RESTORE_JIT = (param: number) => `set_config('jit', $${param}::text, true) AS jit_restored`;

/**
 * Locks the selected rows in key order. Statement one of two: taking the locks in a fixed order means
 * overlapping batches wait for each other instead of deadlocking, and the next statement's fresh
 * snapshot then sees the latest committed row and log row of every entity it changes.
 */
export function lockRowsSql(
  def: EntityDefinition,
  shape: TableShape,
  keys: readonly string[],
  op: ChangeOp,
): SqlQuery {
  const { table, key, state } = def;
  // The counts come free with the lock and, since the rows stay locked, remain true for statement two.
  const [to, from] = op.kind === 'transition' ? [op.to, op.from] : [null, []];
  // It also turns JIT off for statement two (see RESTORE_JIT) and returns the setting to restore.
  return {
    text: `SELECT l.*, w.jit, set_config('jit', 'off', true) AS jit_off
             FROM (SELECT count(*)::int AS found, count(*) FILTER (WHERE s = $2)::int AS already,
                          count(*) FILTER (WHERE s = ANY($3::text[]))::int AS movable
                     FROM (SELECT t.${state.sql}::text AS s FROM ${table.sql} t WHERE t.${key.sql} = ANY($1::${shape.keyType}[])
                            ORDER BY t.${key.sql} FOR NO KEY UPDATE OF t) locked) l,
                  (SELECT current_setting('jit') AS jit OFFSET 0) w`,
    values: [keys, to, from],
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
 * rows and insert one log row per updated row — all in one statement, so N rows cost the
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
  const values: unknown[] = paramValues(p);
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
  const insertLog = insertChangeLogSql(
    s,
    'c.before',
    `ARRAY(SELECT e.key FROM jsonb_each(u.after) e WHERE e.value IS DISTINCT FROM c.before -> e.key ORDER BY e.key)`,
    'JOIN cls c ON c.k = u.k',
  );
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
    ins AS (${insertLog} RETURNING 1)
    SELECT (SELECT count(*)::int FROM upd) AS updated,
           (SELECT count(*)::int FROM ins) AS logged,
           (SELECT count(*)::int FROM cls WHERE st = 'changed') AS to_change,
           coalesce((SELECT json_agg(json_build_array(k::text, st, s)) FROM cls WHERE st <> 'changed'), '[]') AS others,
           ${RESTORE_JIT(values.push(p.jit))}`;
  return { text, values };
}

/**
 * Statement two when the lock's counts show every key exists and may move, the transition has one
 * source state, and the table's UPDATEs change only what they set (no triggers, no generated columns):
 * one pass over the rows. The before image is stored as the source state and the previous version
 * (the two changed fields, decision 0007); the full image is the after image with those put back —
 * exact under those conditions.
 * The remaining keys are those already in the target state (the lock's counts say there are no others).
 */
export function fastTransitionSql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  op: { to: string; from: string },
  p: ChangeParams,
  withUnchanged: boolean,
): SqlQuery {
  return onePassSql(s, def, shape, op, p, withUnchanged ? 'unchanged' : 'none');
}

/**
 * The whole change as one statement, without the lock statement (decision 0005). A batch runs it in a
 * transaction Tally opens itself at REPEATABLE READ: a row changed or locked-and-changed by another
 * transaction since the snapshot makes the UPDATE fail (40001, or 40P01 between two such batches), and
 * the caller retries through the locking path. One key runs it alone, autocommit, at READ COMMITTED
 * (decision 0066): the UPDATE re-checks `state = from` on the row's latest version after any wait, and
 * the log row is built from what the UPDATE returns, so it is exact without a snapshot guarantee.
 * The same one pass as `fastTransitionSql`; the keys it did not update are classified from the
 * statement's snapshot (unchanged / not_found / illegal), so `interpret` can reject an atomic batch
 * (its transaction then rolls back) or report a partial one. `race`: the snapshot showed the key in the
 * source state but the UPDATE, re-checking a newer version, skipped it — only possible at READ
 * COMMITTED; nothing was written for it, and the caller runs the change again through the locks.
 */
export function optimisticTransitionSql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  op: { to: string; from: string },
  p: Omit<ChangeParams, 'jit'>,
): SqlQuery {
  return onePassSql(s, def, shape, op, p, 'classify');
}

function onePassSql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  op: { to: string; from: string },
  p: Omit<ChangeParams, 'jit'> & { jit?: string },
  others: 'none' | 'unchanged' | 'classify',
): SqlQuery {
  const { table, key, state, version } = def;
  const values: unknown[] = [...paramValues(p), op.to, op.from];
  // The before image as the old values of the two fields that change (decision 0007): the rest of the
  // row is the after image's, so readers rebuild the full image as `after || before` (fullBeforeSql).
  const insertLog = insertChangeLogSql(
    s,
    `jsonb_build_object(${sqlString(state.name)}, $11::text, ${sqlString(version.name)}, u.v - 1)`,
    `${sqlString(`{${[state.name, version.name].sort().join(',')}}`)}::text[]`,
    '',
    true,
  );
  const left = `FROM unnest($1::${shape.keyType}[]) AS i(k) WHERE NOT EXISTS (SELECT 1 FROM upd u WHERE u.k = i.k)`;
  const otherKeys =
    others === 'none'
      ? `'[]'::json`
      : others === 'unchanged'
        ? `coalesce((SELECT json_agg(json_build_array(i.k::text, 'unchanged', $10::text)) ${left}), '[]')`
        : // Nothing is left when every key was updated: the CASE keeps the anti-join from running.
          `CASE WHEN (SELECT n FROM cnt) = cardinality($1::${shape.keyType}[]) THEN '[]'::json ELSE
           coalesce((SELECT json_agg(json_build_array(r.k::text,
                       CASE WHEN r.s IS NULL THEN 'not_found' WHEN r.s = $10 THEN 'unchanged'
                            WHEN r.s = $11 THEN 'race' ELSE 'illegal' END, r.s))
                       FROM (SELECT i.k, (SELECT t.${state.sql}::text FROM ${table.sql} t WHERE t.${key.sql} = i.k) AS s
                             ${left}) r), '[]') END`;
  const restore = p.jit === undefined ? '' : `,\n           ${RESTORE_JIT(values.push(p.jit))}`;
  const text = `
    WITH upd AS (
      UPDATE ${table.sql} t SET ${state.sql} = $10, ${version.sql} = t.${version.sql} + 1
       WHERE t.${key.sql} = ANY($1::${shape.keyType}[]) AND t.${state.sql} = $11
      RETURNING t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS after
    ),
    ins AS (${insertLog} RETURNING 1),
    cnt AS (SELECT count(*)::int AS n FROM upd)
    SELECT (SELECT n FROM cnt) AS updated,
           (SELECT count(*)::int FROM ins) AS logged,
           (SELECT n FROM cnt) AS to_change,
           ${otherKeys} AS others${restore}`;
  return { text, values };
}

/** A string literal for SQL text; used only with identifiers already checked against the strict pattern. */
export function sqlString(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

/** $1..$9 of both change statements, in the order `logSourceSql` reads them. */
export function paramValues(p: Omit<ChangeParams, 'jit'>): unknown[] {
  return [p.keys, p.entityType, p.action, p.actor, p.ip, p.reason, p.requestId, p.commandId, p.at];
}

/** The header fields of a change statement's log rows: its parameters $2..$9, the same for every row. */
const SHARED: HashHeader = {
  entity_type: '$2::text',
  action: '$3::text',
  actor: '$4::text',
  source_ip: '$5::text',
  reason: '$6::text',
  request_id: '$7::text',
  command_id: '$8::text',
  at: '$9::timestamptz',
};

/**
 * `INSERT INTO log` of the updated rows `upd`.
 * `beforeDelta`: `before` is the changed fields' old values only, not the full image.
 */
export function insertChangeLogSql(
  s: string,
  before: string,
  changed: string,
  join: string,
  beforeDelta = false,
): string {
  return insertLogSql(s, logSourceSql(before, changed, join), beforeDelta);
}

/**
 * The log rows of the updated rows `upd` (k, v, after), each at the version its UPDATE gave the row.
 * No previous entry is read (decision 0065: no hash chain, so no probe of the log per row); the version,
 * UNIQUE per entity in the log, places the entry after the one at v - 1.
 */
function logSourceSql(before: string, changed: string, join: string): string {
  const f = SHARED;
  return `
      SELECT ${f.entity_type} AS entity_type, u.k::text AS entity_key, u.v AS version, ${f.action} AS action,
             ${f.actor} AS actor, ${f.source_ip} AS source_ip, ${f.reason} AS reason, ${f.request_id} AS request_id,
             ${f.command_id} AS command_id, ${before} AS before, u.after, ${changed} AS changed,
             ${f.at} AS at
        FROM upd u ${join}`;
}

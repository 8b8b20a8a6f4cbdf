import type { SqlQuery } from '../db/types.js';
import type { EntityDefinition } from './definition.js';
import { type HashHeader, insertLogSql } from './hash-sql.js';
import type { TableShape } from './introspect.js';

/**
 * A guarded change of ONE entity row as SQL with no JavaScript between its read and its write:
 * "add -10 to points where points >= 10". A command whose only step is such a change runs as one
 * statement (src/commands/change-sql.ts, decision 0025); the same CTEs run as a step of the general
 * path after a row lock. The log row is written by `insertLogSql` (hash-sql.ts) with the before image,
 * after image and changed-field list computed exactly as `changeSql` (sql.ts) computes them for
 * `entity.update`, so the two paths' rows follow each other in one version sequence and verify the same way.
 */

export type GuardOp = 'gte' | 'gt' | 'lte' | 'lt' | 'eq' | 'ne';

/** A change whose columns were checked against the table: plain identifiers, real columns. */
export interface IncrementOp {
  /** Numeric columns, each increased by one parameter cast to the column's own (numeric) type. */
  readonly add: readonly { readonly column: string; readonly type: string }[];
  /** Columns set from one jsonb parameter, typed by the table's row type (as `entity.update` sets them). */
  readonly set: readonly string[];
  /** Conditions on the current row: ordering ops compare as numeric, eq/ne as text. */
  readonly guard: readonly { readonly column: string; readonly op: GuardOp }[];
  /** The columns whose values the outcome reports. */
  readonly report: readonly string[];
}

/**
 * Where the statement's inputs are: SQL expressions over the items relation `r` (or parameters).
 * The change applies to every item of `rows`, a relation with an item number column `ITEM` and one
 * row per item; the items must name distinct rows (the caller's batcher sees to it). Rows are read and
 * updated in item order: a caller that sends several orders its items the same way every time, so two
 * statements over the same rows wait for each other instead of deadlocking.
 */
export interface IncrementRefs {
  /** The items: a relation (a CTE name, or a parenthesised query) aliased `r` here. */
  readonly rows: string;
  /** The entity key (its canonical text; cast to the key column's type here). */
  readonly key: string;
  /** The log row's header fields; `entity_type` is also the outcome's entity name. */
  readonly header: HashHeader;
  /**
   * Whether every header field is the same for all items (parameters). Unused since log rows carry no
   * hash (decision 0065); kept so callers that still pass it compile.
   */
  readonly sharedHeader?: boolean;
  readonly add: readonly string[];
  readonly set: string | null;
  readonly guard: readonly string[];
  /** A further condition for touching an item's row at all (the command statement's "the key is new"). */
  readonly gate?: string;
}

/** The item number column of `IncrementRefs.rows`, carried through every CTE (a name no table is likely to use). */
export const ITEM = 'tally_item';

const ORDERING: Record<GuardOp, string> = { gte: '>=', gt: '>', lte: '<=', lt: '<', eq: '=', ne: '<>' };

const q = (column: string) => `"${column}"`;
const lit = (column: string) => `'${column}'`;

/** Locks the one row in the caller's transaction, so the next statement's snapshot sees its latest version and log row. */
export function lockOneRowSql(def: EntityDefinition, shape: TableShape, key: string): SqlQuery {
  return {
    text: `SELECT 1 FROM ${def.table.sql} t WHERE t.${def.key.sql} = $1::${shape.keyType} FOR NO KEY UPDATE OF t`,
    values: [key],
  };
}

/**
 * The change as CTEs `ic_cur`, `ic_upd`, `ic_log` and `ic_out` (without the leading WITH), one row of each
 * per item of `r.rows` (`ITEM` carried through; `ic_out` also carries every column of `r.rows`).
 *
 * `ic_cur` reads an item's row in the statement's snapshot and decides there: found, guard holds,
 * anything changes. `ic_upd` applies only while the row is still at the version read (`t.version =
 * c.v`): if another transaction changed it after the snapshot, PostgreSQL re-checks that condition
 * against the newer version and updates nothing. That is what keeps the log right without a prior
 * lock: a log row is written only when the snapshot that computed the before image also saw the row's
 * latest version, so the entry's before is its predecessor's after and its version is the next one. `ic_out.st` says what happened to each item:
 * not_found | guard | unchanged | changed | race (the row moved after the snapshot; nothing written).
 */
export function incrementCtesSql(
  s: string,
  def: EntityDefinition,
  shape: TableShape,
  op: IncrementOp,
  r: IncrementRefs,
): string {
  const { table, key, version } = def;
  const h = r.header;
  const keyRef = `${r.key}::${shape.keyType}`;
  const guards = op.guard.map((g, i) =>
    g.op === 'eq' || g.op === 'ne'
      ? `t.${q(g.column)}::text ${ORDERING[g.op]} ${r.guard[i]}::text`
      : `t.${q(g.column)} ${ORDERING[g.op]} ${r.guard[i]}::numeric`,
  );
  const next = op.add.map((a, i) => `t.${q(a.column)} + ${r.add[i]}::${a.type}`);
  const changes = [
    ...op.add.map((a, i) => `${next[i]} IS DISTINCT FROM t.${q(a.column)}`),
    ...op.set.map((c) => `to_jsonb((n.nv).${q(c)}) IS DISTINCT FROM to_jsonb(t) -> ${lit(c)}`),
  ];
  // The new values are computed where the row is read and carried to the UPDATE, which applies them only
  // to the version read (`t.version = c.v`): the same values it would compute from that version. `set`
  // values are typed by the table's row type (as `entity.update` sets them) and carried as one record
  // (`nv`), so no column of the table can clash with the statement's own names.
  const setList = [
    ...op.add.map((a, i) => `${q(a.column)} = c.a${i}`),
    ...op.set.map((c) => `${q(c)} = (c.nv).${q(c)}`),
  ];
  const withNew = r.set !== null;
  const source = `
      SELECT ${h.entity_type} AS entity_type, u.k::text AS entity_key, u.v AS version, ${h.action} AS action,
             ${h.actor} AS actor, ${h.source_ip} AS source_ip, ${h.reason} AS reason, ${h.request_id} AS request_id,
             ${h.command_id} AS command_id, u.before, u.after,
             ARRAY(SELECT e.key FROM jsonb_each(u.after) e WHERE e.value IS DISTINCT FROM u.before -> e.key ORDER BY e.key) AS changed,
             ${h.at} AS at
        FROM ic_upd u JOIN ${r.rows} r ON r.${ITEM} = u.${ITEM}
       ORDER BY u.${ITEM}`;
  const values = (img: string) =>
    `jsonb_build_object(${op.report.map((c) => `${lit(c)}, ${img} -> ${lit(c)}`).join(', ')})`;
  return `ic_cur AS (
      SELECT r.${ITEM}, t.${key.sql} AS k, t.${version.sql}::int8 AS v, to_jsonb(t) AS before,
             coalesce(${guards.length ? guards.join(' AND ') : 'true'}, false) AS ok,
             coalesce(${changes.join(' OR ')}, false) AS changes${next.map((x, i) => `, ${x} AS a${i}`).join('')}${withNew ? ', n.nv' : ''}
        FROM ${r.rows} r JOIN ${table.sql} t ON t.${key.sql} = ${keyRef}${withNew ? ` CROSS JOIN LATERAL (SELECT jsonb_populate_record(NULL::${table.sql}, ${r.set}::jsonb) AS nv) n` : ''}
       ${r.gate ? `WHERE ${r.gate}` : ''}
       ORDER BY r.${ITEM}
    ),
    ic_upd AS (
      UPDATE ${table.sql} t SET ${setList.join(', ')}, ${version.sql} = t.${version.sql} + 1
        FROM ic_cur c
       WHERE t.${key.sql} = c.k AND t.${version.sql} = c.v AND c.ok AND c.changes
      RETURNING c.${ITEM}, t.${key.sql} AS k, t.${version.sql}::int8 AS v, c.before, to_jsonb(t) AS after
    ),
    ic_log AS (${insertLogSql(s, source)}),
    ic_out AS (
      SELECT r.*,
             CASE WHEN c.k IS NULL THEN 'not_found' WHEN NOT c.ok THEN 'guard'
                  WHEN NOT c.changes THEN 'unchanged' WHEN u.k IS NOT NULL THEN 'changed' ELSE 'race' END AS st,
             jsonb_build_object('entity', ${h.entity_type}, 'key', to_jsonb(${keyRef}),
                                'version', coalesce(u.v, c.v), 'values', ${values('coalesce(u.after, c.before)')}) AS result,
             jsonb_build_object('entity', ${h.entity_type}, 'key', to_jsonb(${keyRef}),
                                'values', ${values('c.before')}) AS details
        FROM ${r.rows} r LEFT JOIN ic_cur c ON c.${ITEM} = r.${ITEM} LEFT JOIN ic_upd u ON u.${ITEM} = r.${ITEM}
    )`;
}

/**
 * The change as one statement inside the caller's transaction, after `lockOneRowSql` (so `race`
 * cannot happen): the general path's step for a declarative command, e.g. when the worker drives one.
 * Returns the text; the values are `[key, entityType, action, actor, requestId, commandId, at,
 * ...add, set?, ...guard]`.
 */
export function incrementSql(s: string, def: EntityDefinition, shape: TableShape, op: IncrementOp): string {
  let n = 7;
  const next = () => `$${++n}`;
  const add = op.add.map(next);
  const set = op.set.length ? next() : null;
  const guard = op.guard.map(next);
  const header: HashHeader = {
    entity_type: '$2::text',
    action: '$3::text',
    actor: '$4::text',
    source_ip: 'NULL::text',
    reason: 'NULL::text',
    request_id: '$5::text',
    command_id: '$6::text',
    at: '$7::timestamptz',
  };
  const one = `(SELECT 1 AS ${ITEM})`;
  return `WITH ${incrementCtesSql(s, def, shape, op, { rows: one, key: '$1', header, add, set, guard })}
    SELECT st, result, details FROM ic_out`;
}

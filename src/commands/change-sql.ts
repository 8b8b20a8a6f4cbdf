import type { HashHeader } from '../changes/hash-sql.js';
import { ITEM, incrementCtesSql } from '../changes/increment-sql.js';
import type { SqlQuery } from '../db/types.js';
import { CHANGE_STEP, type ChangePlan, type ChangeValues, type CompiledChange } from './change.js';
import { COLS, hashOf, type RecordedRequest } from './sql.js';

/** One change command of a statement: its record and its change's values. */
export interface ChangeItem {
  readonly r: RecordedRequest;
  readonly v: ChangeValues;
}

/**
 * Change commands of ONE type as ONE autocommit statement (decisions 0025, 0026), for each item: look
 * the key up; read-check-update the entity row with its log row; record the command with
 * its final outcome and the timeline events the general path would have written (submitted, then
 * step_done + succeeded, or failed). The items name distinct keys and distinct rows (the batcher's
 * rule); each item's outcome is its own, except that any error fails them all.
 *
 * Returns one row per item (`n`, its index in `items`): `st`, the outcome (`result` or `error`) and,
 * when the key was known, its row (`prior`, as JSON): a new command's row is what the caller sent plus
 * that outcome, so it is not sent back. `st` is one of:
 *
 * - `exists`: the key was already recorded (its row is returned; nothing was written for it);
 * - `changed` / `unchanged`: succeeded; `guard` / `not_found`: failed definitely (no change, no log row);
 * - `race`: the row changed after the statement's snapshot; nothing was written for it (the caller
 *   falls back to the general path, which locks the row first).
 *
 * The command INSERT has no ON CONFLICT: a concurrent first submit of the same key (from another
 * process) makes it fail on the unique (type, principal, key) index, and with it the whole statement.
 */
export function changeCommandSql(
  s: string,
  c: CompiledChange,
  plan: ChangePlan,
  items: readonly ChangeItem[],
): SqlQuery {
  const text = textFor(s, c, plan);
  const type = items[0]!.r.type;
  return {
    text: text.text,
    name: text.name,
    values: [itemsJson(items), type, c.entity.name, c.action, c.reason],
  };
}

/**
 * The items as one JSON array (the statement's `$1`, read by jsonb_to_recordset): one parameter
 * whatever the batch size, so the statement is prepared once. The JSON texts of params and input are
 * spliced in as they were recorded.
 */
function itemsJson(items: readonly ChangeItem[]): string {
  const q = JSON.stringify;
  return `[${items
    .map(
      ({ r, v }, n) =>
        `{"n":${n},"id":${q(r.id)},"principal":${q(r.principal)},"key":${q(r.key)},"fingerprint":${q(r.fingerprint)},` +
        `"params":${r.params},"input":${r.input},"at":${q(r.at.toISOString())},"ekey":${q(v.key)},` +
        `"add":${q(v.add)},"set":${v.set ?? 'null'},"guard":${q(v.guard)}}`,
    )
    .join(',')}]`;
}

const texts = new WeakMap<ChangePlan, { text: string; name: string }>();

/** The outcomes a statement records (a command row and its events); `exists` and `race` write nothing. */
const FINISHED = `('changed', 'unchanged', 'guard', 'not_found')`;

function textFor(s: string, c: CompiledChange, plan: ChangePlan): { text: string; name: string } {
  let t = texts.get(plan);
  if (t) return t;
  // Exactly the context a step's `entity.update({ ...ctx.write })` records: actor = principal,
  // request id = idempotency key, command id = the command's id.
  const header: HashHeader = {
    entity_type: '$3::text',
    action: '$4::text',
    actor: 'r.principal',
    source_ip: 'NULL::text',
    reason: 'NULL::text',
    request_id: 'r.key',
    command_id: 'r.id::text',
    at: 'r.at',
  };
  const entity = incrementCtesSql(s, c.entity.runtime.def, plan.shape, plan.op, {
    rows: 'req',
    key: 'r.ekey',
    header,
    add: plan.op.add.map((_, i) => `(r.add ->> ${i})`),
    set: plan.op.set.length ? 'r.set' : null,
    guard: plan.op.guard.map((_, i) => `(r.guard ->> ${i})`),
    gate: 'r.known IS NULL',
  });
  // The items, each with its command row if the key is already recorded (`known`, as JSON; looked up
  // by index per item: `OFFSET 0` keeps the look-up a probe whatever the statistics say).
  // PostgreSQL estimates any jsonb_to_recordset at 100 rows, and planned for 100 items it would
  // hash-join them with whole tables (a scan of the entity table and of every command of the type per
  // statement). A range condition on a column without statistics is estimated at 0.5 %, so the planner
  // expects one item and looks each up by index, which is what a batch of a few items wants.
  const text = `WITH req AS MATERIALIZED (
      SELECT x.n AS ${ITEM}, x.*, p.known
        FROM jsonb_to_recordset($1::jsonb) AS x(n int, id uuid, principal text, key text, fingerprint text,
             params jsonb, input jsonb, at timestamptz, ekey text, add jsonb, set jsonb, guard jsonb)
        LEFT JOIN LATERAL (
          SELECT to_jsonb(c) AS known
            FROM (SELECT ${COLS} FROM ${s}.commands WHERE type = $2 AND principal = x.principal AND key = x.key) c
          OFFSET 0) p ON true
       WHERE x.n BETWEEN 0 AND 999999
    ),
    ${entity},
    o AS (
      SELECT y.*, CASE WHEN NOT y.ok THEN jsonb_build_object('step', '${CHANGE_STEP}', 'reason',
                    CASE y.st WHEN 'guard' THEN $5::text ELSE y.st END, 'details', y.details) END AS error
        FROM (SELECT x.${ITEM}, x.id, x.principal, x.key, x.fingerprint, x.params, x.input, x.at, x.known,
                     CASE WHEN x.known IS NOT NULL THEN 'exists' ELSE x.st END AS st,
                     x.st IN ('changed', 'unchanged') AS ok, x.result, x.details
                FROM ic_out x) y
    ),
    cmd AS (
      INSERT INTO ${s}.commands (id, type, principal, key, fingerprint, params, input, status, step_index,
                                 outputs, result, error, next_at, created_at, updated_at, finished_at)
      SELECT d.id, $2, d.principal, d.key, d.fingerprint, d.params, d.input,
             CASE WHEN d.ok THEN 'succeeded' ELSE 'failed' END, CASE WHEN d.ok THEN 1 ELSE 0 END,
             CASE WHEN d.ok THEN jsonb_build_object('${CHANGE_STEP}', d.result) ELSE '{}'::jsonb END,
             CASE WHEN d.ok THEN d.result END,
             d.error,
             d.at, d.at, d.at, d.at
        FROM o d WHERE d.st IN ${FINISHED} ORDER BY d.${ITEM}
    ),
    ev AS (
      INSERT INTO ${s}.command_events (command_id, kind, step, data, at)
      SELECT d.id, e.kind, e.step, e.data, d.at
        FROM o d, LATERAL (VALUES
               (1, 'submitted', NULL, jsonb_build_object('fingerprint', d.fingerprint)),
               (2, CASE WHEN d.ok THEN 'step_done' ELSE 'failed' END, '${CHANGE_STEP}',
                   CASE WHEN d.ok THEN jsonb_build_object('output', d.result)
                        ELSE jsonb_build_object('reason', d.error -> 'reason', 'details', d.error -> 'details') END),
               (3, CASE WHEN d.ok THEN 'succeeded' END, NULL, jsonb_build_object('result', d.result))
             ) AS e(n, kind, step, data)
       WHERE d.st IN ${FINISHED} AND e.kind IS NOT NULL
       ORDER BY d.${ITEM}, e.n
    )
    SELECT o.${ITEM} AS n, o.st, o.result, o.error, o.known AS prior FROM o`;
  t = { text, name: `tally_chg_${hashOf(text)}` };
  texts.set(plan, t);
  return t;
}

import type { HashHeader } from '../changes/hash-sql.js';
import { incrementCtesSql } from '../changes/increment-sql.js';
import type { SqlQuery } from '../db/types.js';
import { CHANGE_STEP, type ChangePlan, type ChangeValues, type CompiledChange, hashOf } from './change.js';
import { COLS, type RecordedRequest } from './sql.js';

/**
 * A whole change command as ONE autocommit statement (decision 0025): look the key up, read-check-update
 * the entity row with its hash-chained log row, record the command with its final outcome and the
 * timeline events the general path would have written (submitted, then step_done + succeeded, or
 * failed). Returns `st`, the outcome (`result` or `error`) and, when the key was known, its row (`prior`,
 * as JSON): a new command's row is what the caller sent plus that outcome, so it is not sent back.
 * `st` is one of:
 *
 * - `exists`: the key was already recorded (its row is returned; nothing was written);
 * - `changed` / `unchanged`: succeeded; `guard` / `not_found`: failed definitely (no change, no log row);
 * - `race`: the row changed after the statement's snapshot; nothing was written (the caller falls back
 *   to the general path, which locks the row first).
 *
 * The command INSERT has no ON CONFLICT: a concurrent first submit of the same key makes it fail on the
 * unique (type, principal, key) index, and with it the whole statement, its entity change included.
 */
export function changeCommandSql(
  s: string,
  c: CompiledChange,
  plan: ChangePlan,
  r: RecordedRequest,
  v: ChangeValues,
): SqlQuery {
  const text = textFor(s, c, plan);
  return {
    text: text.text,
    name: text.name,
    values: [
      r.id,
      r.type,
      r.principal,
      r.key,
      r.fingerprint,
      r.params,
      r.input,
      r.at,
      v.key,
      c.entity.name,
      c.action,
      c.reason,
      ...v.add,
      ...(v.set === null ? [] : [v.set]),
      ...v.guard,
    ],
  };
}

const texts = new WeakMap<ChangePlan, { text: string; name: string }>();

function textFor(s: string, c: CompiledChange, plan: ChangePlan): { text: string; name: string } {
  let t = texts.get(plan);
  if (t) return t;
  let n = 12;
  const next = () => `$${++n}`;
  const add = plan.op.add.map(next);
  const set = plan.op.set.length ? next() : null;
  const guard = plan.op.guard.map(next);
  // Exactly the context a step's `entity.update({ ...ctx.write })` records: actor = principal,
  // request id = idempotency key, command id = the command's id.
  const header: HashHeader = {
    entity_type: '$10::text',
    action: '$11::text',
    actor: '$3::text',
    source_ip: 'NULL::text',
    reason: 'NULL::text',
    request_id: '$4::text',
    command_id: '$1::uuid::text',
    at: '$8::timestamptz',
  };
  const entity = incrementCtesSql(s, c.entity.runtime.def, plan.shape, plan.op, {
    key: '$9',
    header,
    add,
    set,
    guard,
    gate: 'NOT EXISTS (SELECT 1 FROM prior)',
  });
  const text = `WITH prior AS (SELECT ${COLS} FROM ${s}.commands WHERE type = $2 AND principal = $3 AND key = $4),
    ${entity},
    o AS (
      SELECT y.st, y.ok, y.result,
             CASE WHEN NOT y.ok THEN jsonb_build_object('step', '${CHANGE_STEP}', 'reason', y.reason, 'details', y.details) END AS error
        FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM prior) THEN 'exists' ELSE x.st END AS st,
                     x.st IN ('changed', 'unchanged') AS ok, x.result,
                     CASE x.st WHEN 'guard' THEN $12::text ELSE x.st END AS reason, x.details
                FROM ic_out x) y
    ),
    cmd AS (
      INSERT INTO ${s}.commands (id, type, principal, key, fingerprint, params, input, status, step_index,
                                 outputs, result, error, next_at, created_at, updated_at, finished_at)
      SELECT $1::uuid, $2, $3, $4, $5, $6::jsonb, $7::jsonb,
             CASE WHEN o.ok THEN 'succeeded' ELSE 'failed' END, CASE WHEN o.ok THEN 1 ELSE 0 END,
             CASE WHEN o.ok THEN jsonb_build_object('${CHANGE_STEP}', o.result) ELSE '{}'::jsonb END,
             CASE WHEN o.ok THEN o.result END,
             o.error,
             $8, $8, $8, $8
        FROM o WHERE o.st IN ('changed', 'unchanged', 'guard', 'not_found')
      RETURNING 1
    ),
    ev AS (
      INSERT INTO ${s}.command_events (command_id, kind, step, data, at)
      SELECT $1::uuid, e.kind, e.step, e.data, $8
        FROM o, LATERAL (VALUES
               (1, 'submitted', NULL, jsonb_build_object('fingerprint', $5::text)),
               (2, CASE WHEN o.ok THEN 'step_done' ELSE 'failed' END, '${CHANGE_STEP}',
                   CASE WHEN o.ok THEN jsonb_build_object('output', o.result)
                        ELSE jsonb_build_object('reason', o.error -> 'reason', 'details', o.error -> 'details') END),
               (3, CASE WHEN o.ok THEN 'succeeded' END, NULL, jsonb_build_object('result', o.result))
             ) AS e(n, kind, step, data)
       WHERE EXISTS (SELECT 1 FROM cmd) AND e.kind IS NOT NULL
       ORDER BY e.n
    )
    SELECT o.st, o.result, o.error, (SELECT row_to_json(p) FROM prior p) AS prior FROM o`;
  t = { text, name: `tally_chg_${hashOf(text)}` };
  texts.set(plan, t);
  return t;
}

import type { SqlQuery } from '../db/types.js';
import { type CommandRow, type CommandStatus, type EventIn, hot } from './sql.js';

// The statements that save a command: its mutable fields and its new events in one statement, alone or
// with the write to its call that belongs with it (a new call and its first send; a call's outcome).

/** What the row must still say for a save to apply (a step that ran without taking the row lock first). */
export interface SaveExpectation {
  owner: string;
  status: CommandStatus;
  stepIndex: number;
}

/**
 * Writes the mutable fields of a command and appends its events, in one statement. With an expectation
 * the update applies only while the row still has that lease owner, status and step (`n` is 0 otherwise);
 * the UPDATE holds the row lock from then to the commit, so nobody can change it in between.
 */
const saveCte = (s: string) => `WITH u AS (
           UPDATE ${s}.commands
              SET status = $2, step_index = $3, decisions = $4::jsonb, outputs = $5::jsonb, result = $6::jsonb,
                  error = $7::jsonb, attempts = $8, next_at = $9, lease_owner = $10, lease_until = $11,
                  updated_at = $12, finished_at = $13, budget_from = $18, paused_on = $19
            WHERE id = $1::uuid
              AND ($15::text IS NULL OR (lease_owner = $15 AND status = $16 AND step_index = $17))
            RETURNING 1),
         e AS (
           INSERT INTO ${s}.command_events (command_id, kind, step, data, at)
           SELECT $1::uuid, x ->> 'kind', x ->> 'step', x -> 'data', $12
             FROM jsonb_array_elements($14::jsonb) WITH ORDINALITY AS t(x, n)
            WHERE EXISTS (SELECT 1 FROM u) ORDER BY n
           RETURNING 1)`;

const saveValues = (
  r: CommandRow,
  events: readonly EventIn[],
  at: Date,
  expect: SaveExpectation | null,
): unknown[] => [
  r.id,
  r.status,
  r.step_index,
  JSON.stringify(r.decisions),
  JSON.stringify(r.outputs),
  r.result === undefined ? null : JSON.stringify(r.result),
  r.error === null ? null : JSON.stringify(r.error),
  r.attempts,
  r.next_at,
  r.lease_owner,
  r.lease_until,
  at,
  r.finished_at,
  JSON.stringify(events.map((e) => ({ kind: e.kind, step: e.step ?? null, data: e.data ?? null }))),
  expect?.owner ?? null,
  expect?.status ?? null,
  expect?.stepIndex ?? null,
  r.budget_from,
  r.paused_on,
];

export const saveCommandSql = (
  s: string,
  r: CommandRow,
  events: readonly EventIn[],
  at: Date,
  expect: SaveExpectation | null = null,
): SqlQuery => ({
  ...hot('save', s, () => `${saveCte(s)} SELECT (SELECT count(*)::int FROM u) AS n`),
  values: saveValues(r, events, at, expect),
});

/** A call seen for the first time: its stored request, with its first send counted. */
export interface NewCall {
  step: string;
  downstreamKey: string;
  /** JSON text. */
  request: string;
}

/** The save, and a new call stored with its first send in the same statement (only if the save applied). */
export const saveInsertingCallSql = (
  s: string,
  r: CommandRow,
  events: readonly EventIn[],
  at: Date,
  expect: SaveExpectation | null,
  c: NewCall,
): SqlQuery => ({
  ...hot(
    'save_call',
    s,
    () => `${saveCte(s)},
         k AS (
           INSERT INTO ${s}.command_calls
             (command_id, step, downstream_key, request, sends, first_sent_at, last_sent_at, created_at)
           SELECT $1::uuid, $20, $21, $22::jsonb, 1, $12, $12, $12 WHERE EXISTS (SELECT 1 FROM u)
           RETURNING 1)
         SELECT (SELECT count(*)::int FROM u) AS n, (SELECT count(*)::int FROM k) AS inserted`,
  ),
  values: [...saveValues(r, events, at, expect), c.step, c.downstreamKey, c.request],
});

/** A call's definite outcome, to be recorded on it once. */
export interface CallOutcome {
  step: string;
  outcome: 'success' | 'failure';
  /** JSON text. */
  value: string | null;
  via: string;
}

/**
 * The save, and the call's outcome written in the same statement — only if the save applied, and only
 * if the call has none yet (`settled` says whether it was written).
 */
export const saveSettlingCallSql = (
  s: string,
  r: CommandRow,
  events: readonly EventIn[],
  at: Date,
  expect: SaveExpectation | null,
  o: CallOutcome,
): SqlQuery => ({
  ...hot(
    'save_settle',
    s,
    () => `${saveCte(s)},
         c AS (
           UPDATE ${s}.command_calls SET outcome = $21, value = $22::jsonb, resolved_by = $23, resolved_at = $12
            WHERE command_id = $1::uuid AND step = $20 AND outcome IS NULL AND EXISTS (SELECT 1 FROM u)
           RETURNING 1)
         SELECT (SELECT count(*)::int FROM u) AS n, (SELECT count(*)::int FROM c) AS settled`,
  ),
  values: [...saveValues(r, events, at, expect), o.step, o.outcome, o.value, o.via],
});

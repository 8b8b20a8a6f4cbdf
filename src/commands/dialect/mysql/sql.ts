import { utcText } from '../../../changes/dialect/mysql/sql.js';
import type { SqlQuery } from '../../../db/types.js';
import type { RequeueFilter } from '../../requeue-sql.js';
import type { CommandRow, EventIn } from '../../sql.js';
import type { AlertRow, InsertCommand, ResolveCall, SaveArgs, StoredCall } from '../types.js';

/**
 * The commands' statements on MySQL 8.0 / MariaDB (decision 0132). `t` names Tally's tables
 * (`tally_commands`, …, decision 0131). Placeholders are `?`; an array value expands to a list. Times go
 * out as UTC text and come back as ISO text (`iso`), so a pool's `timezone` setting shifts neither way;
 * JSON columns come back as text (`CAST … AS CHAR`) so a bare JSON string is parsed exactly once.
 */
export type Tables = (table: string) => string;

/** A DATETIME(6) column as ISO-8601 UTC text (`new Date(text)` reads it). */
const iso = (c: string) => `DATE_FORMAT(${c}, '%Y-%m-%dT%H:%i:%s.%fZ') AS ${c}`;
const text = (c: string) => `CAST(${c} AS CHAR) AS ${c}`;

/** The command row as every reader takes it (normalizeRow reads it). */
export const COLS = [
  'id, type, principal, `key`, fingerprint',
  text('params'),
  text('input'),
  'status, step_index',
  text('decisions'),
  text('outputs'),
  text('result'),
  text('error'),
  'attempts',
  iso('next_at'),
  'lease_owner',
  iso('lease_until'),
  iso('created_at'),
  iso('updated_at'),
  iso('finished_at'),
  iso('budget_from'),
  'paused_on',
].join(', ');

const CALL_COLS = [
  'command_id, step, downstream_key',
  text('request'),
  'sends, queries',
  iso('first_sent_at'),
  iso('last_sent_at'),
  'outcome',
  text('value'),
  'resolved_by',
  iso('resolved_at'),
  iso('created_at'),
].join(', ');

/** A time as DATETIME(6) text, or NULL. */
export const at = (d: Date | null | undefined): string | null => (d ? utcText(d) : null);

export const insertCommandSql = (t: Tables, c: InsertCommand): SqlQuery => ({
  text: `INSERT INTO ${t('commands')} (id, type, principal, \`key\`, fingerprint, params, input, decisions, outputs,
           next_at, lease_owner, lease_until, created_at, updated_at, trace_context)
         VALUES (?, ?, ?, ?, ?, ?, ?, '{}', '{}', ?, ?, ?, ?, ?, ?)`,
  values: [
    c.id,
    c.type,
    c.principal,
    c.key,
    c.fingerprint,
    c.params,
    c.input,
    at(c.at),
    c.owner,
    at(c.leaseUntil),
    at(c.at),
    at(c.at),
    c.traceContext ?? null,
  ],
});

/** The row an insert wrote, as a reader would see it: the submit drives it without reading it back. */
export function insertedRow(c: InsertCommand): Record<string, unknown> {
  return {
    id: c.id,
    type: c.type,
    principal: c.principal,
    key: c.key,
    fingerprint: c.fingerprint,
    params: c.params,
    input: c.input,
    status: 'pending',
    step_index: 0,
    decisions: {},
    outputs: {},
    result: null,
    error: null,
    attempts: 0,
    next_at: c.at,
    lease_owner: c.owner,
    lease_until: c.leaseUntil,
    created_at: c.at,
    updated_at: c.at,
    finished_at: null,
    budget_from: null,
    paused_on: null,
  };
}

export const commandWhereSql = (t: Tables, where: string, values: unknown[], lock = ''): SqlQuery => ({
  text: `SELECT ${COLS} FROM ${t('commands')} WHERE ${where}${lock}`,
  values,
});

/** The claim's locking read: the row only if it is unfinished and nobody holds it (and, with due, due). */
export const claimableSql = (t: Tables, id: string, now: Date, due: boolean): SqlQuery =>
  commandWhereSql(
    t,
    `id = ? AND status IN ('pending', 'compensating') AND (lease_owner IS NULL OR lease_until <= ?)
       AND (? = 0 OR next_at <= ?)`,
    [id, at(now), due ? 1 : 0, at(now)],
    ' FOR UPDATE',
  );

export const leaseSql = (
  t: Tables,
  ids: readonly string[],
  owner: string,
  now: Date,
  until: Date,
): SqlQuery => ({
  text: `UPDATE ${t('commands')} SET lease_owner = ?, lease_until = ?, updated_at = ? WHERE id IN (?)`,
  values: [owner, at(until), at(now), ids],
});

/**
 * The mutable fields of a command; with an expectation, only while the row still has that lease owner,
 * status and step. `affectedRows` is the rows *matched* (mysql2's default FOUND_ROWS flag), so 1 means applied.
 */
export const saveSql = (t: Tables, a: SaveArgs): SqlQuery => {
  const r: CommandRow = a.row;
  const e = a.expect;
  return {
    text: `UPDATE ${t('commands')}
              SET status = ?, step_index = ?, decisions = ?, outputs = ?, result = ?, error = ?, attempts = ?,
                  next_at = ?, lease_owner = ?, lease_until = ?, updated_at = ?, finished_at = ?, budget_from = ?,
                  paused_on = ?
            WHERE id = ? AND (? = 0 OR (lease_owner = ? AND status = ? AND step_index = ?))`,
    values: [
      r.status,
      r.step_index,
      JSON.stringify(r.decisions),
      JSON.stringify(r.outputs),
      r.result === undefined ? null : JSON.stringify(r.result),
      r.error === null ? null : JSON.stringify(r.error),
      r.attempts,
      at(r.next_at),
      r.lease_owner,
      at(r.lease_until),
      at(a.at),
      at(r.finished_at),
      at(r.budget_from),
      r.paused_on,
      r.id,
      e ? 1 : 0,
      e?.owner ?? null,
      e?.status ?? null,
      e?.stepIndex ?? null,
    ],
  };
};

/** A command's new events, in order, in one statement. */
export const insertEventsSql = (t: Tables, id: string, events: readonly EventIn[], when: Date): SqlQuery => ({
  text: `INSERT INTO ${t('command_events')} (command_id, kind, step, data, at) VALUES ${events
    .map(() => '(?, ?, ?, ?, ?)')
    .join(', ')}`,
  values: events.flatMap((e) => [id, e.kind, e.step ?? null, JSON.stringify(e.data ?? null), at(when)]),
});

/** One event for each of several commands (the worker's `claimed`). */
export const insertEventEachSql = (
  t: Tables,
  ids: readonly string[],
  kind: string,
  data: unknown,
  when: Date,
): SqlQuery => ({
  text: `INSERT INTO ${t('command_events')} (command_id, kind, data, at) VALUES ${ids.map(() => '(?, ?, ?, ?)').join(', ')}`,
  values: ids.flatMap((id) => [id, kind, JSON.stringify(data), at(when)]),
});

export const insertCallSql = (t: Tables, c: StoredCall, firstSend: boolean): SqlQuery => ({
  text: `INSERT INTO ${t('command_calls')}
           (command_id, step, downstream_key, request, sends, first_sent_at, last_sent_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  values: [
    c.id,
    c.step,
    c.downstreamKey,
    c.request,
    firstSend ? 1 : 0,
    firstSend ? at(c.at) : null,
    firstSend ? at(c.at) : null,
    at(c.at),
  ],
});

export const callSql = (t: Tables, id: string, step: string): SqlQuery => ({
  text: `SELECT ${CALL_COLS} FROM ${t('command_calls')} WHERE command_id = ? AND step = ?`,
  values: [id, step],
});

export const callByDownstreamKeySql = (t: Tables, downstreamKey: string): SqlQuery => ({
  text: `SELECT ${CALL_COLS} FROM ${t('command_calls')} WHERE downstream_key = ?`,
  values: [downstreamKey],
});

/** The call a key names if it already has this outcome, and its command is of this type. */
export const settledCallSql = (
  t: Tables,
  downstreamKey: string,
  outcome: 'success' | 'failure',
  type: string,
): SqlQuery => ({
  text: `SELECT c.command_id, c.step FROM ${t('command_calls')} c
           JOIN ${t('commands')} m ON m.id = c.command_id AND m.type = ?
          WHERE c.downstream_key = ? AND c.outcome = ?`,
  values: [type, downstreamKey, outcome],
});

export const callsOfSql = (t: Tables, id: string): SqlQuery => ({
  text: `SELECT ${CALL_COLS} FROM ${t('command_calls')} WHERE command_id = ? ORDER BY created_at, step`,
  values: [id],
});

/**
 * Counts a send or a query, and answers the new count in the same statement: `LAST_INSERT_ID(expr)` sets
 * the session's last insert id, which the OK packet carries back as `insertId` (no UPDATE … RETURNING).
 */
export const markCallSql = (
  t: Tables,
  id: string,
  step: string,
  what: 'send' | 'query',
  when: Date,
): SqlQuery =>
  what === 'send'
    ? {
        text: `UPDATE ${t('command_calls')} SET sends = LAST_INSERT_ID(sends + 1),
                 first_sent_at = COALESCE(first_sent_at, ?), last_sent_at = ?
                WHERE command_id = ? AND step = ?`,
        values: [at(when), at(when), id, step],
      }
    : {
        text: `UPDATE ${t('command_calls')} SET queries = LAST_INSERT_ID(queries + 1)
                WHERE command_id = ? AND step = ?`,
        values: [id, step],
      };

/** A call's outcome, once: a resolved call is never overwritten (`affectedRows` says whether it was written). */
export const resolveCallSql = (t: Tables, c: ResolveCall): SqlQuery => ({
  text: `UPDATE ${t('command_calls')} SET outcome = ?, value = ?, resolved_by = ?, resolved_at = ?
          WHERE command_id = ? AND step = ? AND outcome IS NULL`,
  values: [c.outcome, c.value, c.via, at(c.at), c.id, c.step],
});

export const insertAlertSql = (t: Tables, a: AlertRow): SqlQuery => ({
  text: `INSERT INTO ${t('command_alerts')} (command_id, command_type, kind, message, data, at)
         VALUES (?, ?, ?, ?, ?, ?)`,
  values: [a.id, a.type, a.kind, a.message, JSON.stringify(a.data ?? null), at(a.at)],
});

export const alertsSql = (
  t: Tables,
  type: string,
  commandId: string | null,
  openOnly: boolean,
): SqlQuery => ({
  text: `SELECT CAST(id AS CHAR) AS id, command_id, command_type, kind, message, ${text('data')}, ${iso('at')},
                ${iso('resolved_at')}
           FROM ${t('command_alerts')}
          WHERE command_type = ? AND (? IS NULL OR command_id = ?) AND (? = 0 OR resolved_at IS NULL)
          ORDER BY id`,
  values: [type, commandId, commandId, openOnly ? 1 : 0],
});

export const eventsSql = (t: Tables, id: string): SqlQuery => ({
  text: `SELECT CAST(id AS CHAR) AS id, kind, step, ${text('data')}, ${iso('at')}
           FROM ${t('command_events')} WHERE command_id = ? ORDER BY id`,
  values: [id],
});

/**
 * Stranded (`needs_attention`) commands matching a requeue's filter, oldest first; `lock` for the requeue
 * itself. Only the filters given become conditions (no `? IS NULL OR …` for the planner to see through).
 */
export const strandedSql = (t: Tables, f: RequeueFilter, lock: boolean): SqlQuery => {
  const where = [`status = 'needs_attention'`];
  const values: unknown[] = [];
  if (f.types !== null) {
    where.push('type IN (?)');
    values.push(f.types.length > 0 ? f.types : ['']);
  }
  if (f.id !== null) {
    where.push('id = ?');
    values.push(f.id);
  }
  if (f.since !== null) {
    where.push('created_at >= ?');
    values.push(at(f.since));
  }
  if (f.until !== null) {
    where.push('created_at < ?');
    values.push(at(f.until));
  }
  if (f.steps !== null) {
    where.push(
      f.steps.length > 0 ? `(type, step_index) IN (${f.steps.map(() => '(?, ?)').join(', ')})` : 'FALSE',
    );
    for (const s of f.steps) values.push(s.type, s.step);
  }
  return {
    text: `SELECT id, type, \`key\`, principal, attempts, step_index, ${text('error')}, ${iso('created_at')},
                  ${iso('updated_at')}
             FROM ${t('commands')} WHERE ${where.join(' AND ')}
            ORDER BY created_at, id LIMIT ?${lock ? ' FOR UPDATE' : ''}`,
    values: [...values, f.limit],
  };
};

/** The requeue's UPDATE: a new budget, due now; `undo` are the ids whose definite failure is being undone. */
export const requeueSql = (
  t: Tables,
  ids: readonly string[],
  undo: readonly string[],
  when: Date,
): SqlQuery => ({
  text: `UPDATE ${t('commands')}
            SET status = CASE WHEN id IN (?) THEN 'compensating' ELSE 'pending' END,
                attempts = 0, budget_from = ?, next_at = ?, paused_on = NULL, lease_owner = NULL,
                lease_until = NULL, updated_at = ?
          WHERE id IN (?)`,
  values: [undo.length > 0 ? undo : [''], at(when), at(when), at(when), ids],
});

/** Events of several commands, each with its own data, in one statement. */
export const insertEventRowsSql = (
  t: Tables,
  rows: readonly { id: string; kind: string; data: unknown }[],
  when: Date,
): SqlQuery => ({
  text: `INSERT INTO ${t('command_events')} (command_id, kind, data, at) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`,
  values: rows.flatMap((r) => [r.id, r.kind, JSON.stringify(r.data), at(when)]),
});

/** Resolves the open needs_attention alerts of these commands. */
export const resolveAttentionSql = (t: Tables, ids: readonly string[], when: Date): SqlQuery => ({
  text: `UPDATE ${t('command_alerts')} SET resolved_at = ?
          WHERE command_id IN (?) AND kind = 'needs_attention' AND resolved_at IS NULL`,
  values: [at(when), ids],
});

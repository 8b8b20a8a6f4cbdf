import { createHash } from 'node:crypto';
import type { SqlQuery } from '../db/types.js';

export type CommandStatus = 'pending' | 'compensating' | 'succeeded' | 'failed' | 'needs_attention';

export interface CommandRow {
  id: string;
  type: string;
  principal: string;
  key: string;
  fingerprint: string;
  params: unknown;
  input: unknown;
  status: CommandStatus;
  step_index: number;
  decisions: Record<string, unknown>;
  outputs: Record<string, unknown>;
  result: unknown;
  error: Record<string, unknown> | null;
  attempts: number;
  next_at: Date;
  lease_owner: string | null;
  lease_until: Date | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  /** Where the retry deadline counts from when not `created_at` (set by a requeue). */
  budget_from: Date | null;
  /** The downstream whose open breaker holds this command (it wakes when the breaker closes). */
  paused_on: string | null;
}

export interface CallRow {
  command_id: string;
  step: string;
  downstream_key: string;
  request: unknown;
  sends: number;
  queries: number;
  first_sent_at: Date | null;
  last_sent_at: Date | null;
  outcome: 'success' | 'failure' | null;
  value: unknown;
  resolved_by: string | null;
  resolved_at: Date | null;
  created_at: Date;
}

/** An event as written: it lands on the command's timeline. */
export interface EventIn {
  kind: string;
  step?: string | null;
  data?: unknown;
}

/**
 * The command row as every reader takes it (also the one-statement change command's RETURNING).
 * `params`, `input` and `result` may be any JSON value, a bare string too: as text, so normalizeRow parses
 * each exactly once (a driver that parses jsonb would hand `"abc"` over as `abc`, which is not JSON).
 */
export const COLS = `id::text AS id, type, principal, key, fingerprint, params::text AS params, input::text AS input,
  status, step_index, decisions, outputs, result::text AS result, error, attempts, next_at, lease_owner, lease_until, created_at, updated_at, finished_at,
  budget_from, paused_on`;
const CALL_COLS = `command_id::text AS command_id, step, downstream_key, request, sends, queries, first_sent_at,
  last_sent_at, outcome, value, resolved_by, resolved_at, created_at`;

/** A prepared statement's name from its text (prepared once per connection; planning costs as much as running). */
export function hashOf(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 20);
}

const texts = new Map<string, { text: string; name: string }>();

/**
 * A hot statement whose text depends only on the schema, built once per schema and prepared once per
 * connection (PostgreSQL; PGlite ignores the name). Planning these small CTEs cost the server about as
 * much as running them, on every command.
 */
export function hot(kind: string, s: string, build: () => string): { text: string; name: string } {
  const id = `${kind} ${s}`;
  let t = texts.get(id);
  if (!t) {
    const text = build();
    t = { text, name: `tally_cmd_${hashOf(text)}` };
    texts.set(id, t);
  }
  return t;
}

/** What a submit records of a request, on the primary or (failover) the secondary. */
export interface RecordedRequest {
  id: string;
  type: string;
  principal: string;
  key: string;
  fingerprint: string;
  /** JSON text of the key parameters. */
  params: string;
  /** JSON text of the whole input snapshot. */
  input: string;
  at: Date;
}

/** The record of a checked submit: its key, fingerprint and the JSON texts of its parameters and input. */
export function recordedRequest(
  type: string,
  p: { key: string; principal: string; input: unknown; fingerprint: string; canonical: string },
  id: string,
  at: Date,
): RecordedRequest {
  const { key, principal, fingerprint, canonical } = p;
  return { id, type, principal, key, fingerprint, params: canonical, input: JSON.stringify(p.input), at };
}

/**
 * Records key, fingerprint and input snapshot (leased to the submitter); no row when the key exists.
 * Its commit does not wait for the WAL flush (`synchronous_commit` off for this one statement's
 * transaction): every effect of the command commits later, synchronously, and that flush covers this
 * earlier record too — so no effect is ever durable without its record, and a submitter that dies keeps
 * the record (the server has it). Only a database crash in the next ~200 ms can lose a record whose
 * command has not yet changed anything (docs/decisions/0036). Only on a server (`asyncRecord`): an
 * embedded database dies with its process, and would lose the record with it.
 */
export const insertCommandSql = (
  s: string,
  c: RecordedRequest & { owner: string; leaseUntil: Date; traceContext?: string | null },
  asyncRecord = false,
): SqlQuery => ({
  ...hot(
    'insert',
    s,
    () => `WITH ins AS (
           INSERT INTO ${s}.commands (id, type, principal, key, fingerprint, params, input, next_at,
                                      lease_owner, lease_until, created_at, updated_at, trace_context)
           SELECT $1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $8, $8, $12
             FROM (SELECT CASE WHEN $11::boolean THEN set_config('synchronous_commit', 'off', true) END) AS c
           ON CONFLICT (type, principal, key) DO NOTHING
           RETURNING *),
         ev AS (INSERT INTO ${s}.command_events (command_id, kind, data, at)
                SELECT id, 'submitted', jsonb_build_object('fingerprint', fingerprint), $8 FROM ins)
         SELECT ${COLS} FROM ins`,
  ),
  values: [
    c.id,
    c.type,
    c.principal,
    c.key,
    c.fingerprint,
    c.params,
    c.input,
    c.at,
    c.owner,
    c.leaseUntil,
    asyncRecord,
    c.traceContext ?? null, // the head request's traceparent (decision 0140), null when tracing is off
  ],
});

export const commandByKeySql = (s: string, type: string, principal: string, key: string): SqlQuery => ({
  ...hot(
    'by_key',
    s,
    () => `SELECT ${COLS} FROM ${s}.commands WHERE type = $1 AND principal = $2 AND key = $3`,
  ),
  values: [type, principal, key],
});

export const commandByIdSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT ${COLS} FROM ${s}.commands WHERE id = $1::uuid`,
  values: [id],
});

/** Lock, check, update: the row lock every step of a command runs under. */
export const lockCommandSql = (s: string, id: string): SqlQuery => ({
  ...hot('lock', s, () => `SELECT ${COLS} FROM ${s}.commands WHERE id = $1::uuid FOR UPDATE`),
  values: [id],
});

/**
 * Takes the lease of an unfinished command nobody holds (or whose holder's lease ran out); with `due`,
 * only when its next attempt is due (a client's retry never runs an attempt early).
 */
export const claimCommandSql = (
  s: string,
  id: string,
  owner: string,
  now: Date,
  until: Date,
  due = false,
): SqlQuery => ({
  ...hot(
    'claim',
    s,
    () => `UPDATE ${s}.commands SET lease_owner = $2, lease_until = $4, updated_at = $3
          WHERE id = $1::uuid AND status IN ('pending', 'compensating')
            AND (lease_owner IS NULL OR lease_until <= $3) AND (NOT $5::boolean OR next_at <= $3)
         RETURNING ${COLS}`,
  ),
  values: [id, owner, now, until, due],
});

export const callSql = (s: string, id: string, step: string): SqlQuery => ({
  text: `SELECT ${CALL_COLS} FROM ${s}.command_calls WHERE command_id = $1::uuid AND step = $2`,
  values: [id, step],
});

export const callsOfSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT ${CALL_COLS} FROM ${s}.command_calls WHERE command_id = $1::uuid ORDER BY created_at, step`,
  values: [id],
});

export const callByDownstreamKeySql = (s: string, downstreamKey: string): SqlQuery => ({
  text: `SELECT ${CALL_COLS} FROM ${s}.command_calls WHERE downstream_key = $1`,
  values: [downstreamKey],
});

/** Stores the outbound request before its first send. */
export const insertCallSql = (
  s: string,
  c: { id: string; step: string; downstreamKey: string; request: string; at: Date },
): SqlQuery => ({
  text: `INSERT INTO ${s}.command_calls (command_id, step, downstream_key, request, created_at)
         VALUES ($1::uuid, $2, $3, $4::jsonb, $5) RETURNING ${CALL_COLS}`,
  values: [c.id, c.step, c.downstreamKey, c.request, c.at],
});

/** Counts a send (recorded before it happens) or a query. */
export const markCallSql = (
  s: string,
  id: string,
  step: string,
  what: 'send' | 'query',
  at: Date,
): SqlQuery => ({
  text:
    what === 'send'
      ? `UPDATE ${s}.command_calls SET sends = sends + 1, first_sent_at = coalesce(first_sent_at, $3), last_sent_at = $3
          WHERE command_id = $1::uuid AND step = $2 RETURNING sends AS n`
      : `UPDATE ${s}.command_calls SET queries = queries + 1
          WHERE command_id = $1::uuid AND step = $2 RETURNING queries AS n`,
  values: what === 'send' ? [id, step, at] : [id, step],
});

/** Records a call's final outcome, once: a resolved call is never overwritten. */
export const resolveCallSql = (
  s: string,
  c: {
    id: string;
    step: string;
    outcome: 'success' | 'failure';
    value: string | null;
    via: string;
    at: Date;
  },
): SqlQuery => ({
  text: `UPDATE ${s}.command_calls SET outcome = $3, value = $4::jsonb, resolved_by = $5, resolved_at = $6
          WHERE command_id = $1::uuid AND step = $2 AND outcome IS NULL RETURNING 1 AS n`,
  values: [c.id, c.step, c.outcome, c.value, c.via, c.at],
});

/**
 * A message that agrees with the outcome already recorded on its call: only a `duplicate` event to add
 * (an outcome is never overwritten, so no lock is needed to tell). Returns the command when it applied.
 */
export const notifyDuplicateSql = (
  s: string,
  c: { downstreamKey: string; outcome: 'success' | 'failure'; type: string; data: string; at: Date },
): SqlQuery => ({
  ...hot(
    'notify_duplicate',
    s,
    () => `WITH c AS (
           SELECT command_id, step FROM ${s}.command_calls WHERE downstream_key = $1 AND outcome = $2),
         ins AS (
           INSERT INTO ${s}.command_events (command_id, kind, step, data, at)
           SELECT c.command_id, 'duplicate', c.step, $4::jsonb, $5
             FROM c JOIN ${s}.commands m ON m.id = c.command_id AND m.type = $3
           RETURNING command_id)
         SELECT ${COLS} FROM ${s}.commands WHERE id = (SELECT command_id FROM ins)`,
  ),
  values: [c.downstreamKey, c.outcome, c.type, c.data, c.at],
});

export const insertAlertSql = (
  s: string,
  a: { id: string | null; type: string; kind: string; message: string; data: unknown; at: Date },
): SqlQuery => ({
  text: `INSERT INTO ${s}.command_alerts (command_id, command_type, kind, message, data, at)
         VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6) RETURNING id::text AS id`,
  values: [a.id, a.type, a.kind, a.message, JSON.stringify(a.data ?? null), a.at],
});

export const alertsSql = (
  s: string,
  type: string,
  commandId: string | null,
  openOnly: boolean,
): SqlQuery => ({
  text: `SELECT a.id::text AS id, a.command_id::text AS command_id, a.command_type, a.kind, a.message, a.data,
                a.at, a.resolved_at
           FROM ${s}.command_alerts a
          WHERE a.command_type = $1 AND ($2::uuid IS NULL OR a.command_id = $2::uuid)
            AND (NOT $3::boolean OR a.resolved_at IS NULL)
          ORDER BY a.id`,
  values: [type, commandId, openOnly],
});

export const eventsSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT e.id::text AS id, e.kind, e.step, e.data, e.at
           FROM ${s}.command_events e WHERE e.command_id = $1::uuid ORDER BY e.id`,
  values: [id],
});

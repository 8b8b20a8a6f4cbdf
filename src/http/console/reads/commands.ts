import { listAlertsSql } from '../../../commands/alerts-sql.js';
import { normalizeRow } from '../../../commands/machine.js';
import { commandByIdSql } from '../../../commands/sql.js';
import { readTimeline } from '../../../commands/timeline.js';
import type { Executor, Row } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { type Page, pageOf, type Query } from '../query.js';
import { type CommandFilter, listCommandsSql, STATUSES } from './commands-sql.js';
import { alertJson, iso, json } from './json.js';

/** One command in the list. */
export interface CommandListItem {
  id: string;
  type: string;
  principal: string;
  key: string;
  status: string;
  stepIndex: number;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  nextAt: string;
  pausedOn: string | null;
  error: unknown;
}

/** The commands list's filters from a request's query (INVALID_QUERY naming a bad one). */
export function commandFilter(q: Query): CommandFilter {
  const after = q.text('after');
  const [at, id] = after === undefined ? [] : decodeCursor('commands', after, 'ss');
  const since = q.time('since') ?? null;
  const until = q.time('until') ?? null;
  return {
    statuses: q.oneOf('status', STATUSES) ?? null,
    type: q.text('type') ?? null,
    principal: q.text('principal') ?? null,
    key: q.text('key') ?? null,
    since,
    until,
    after: at === undefined ? null : [String(at), String(id)],
    limit: q.limit(),
  };
}

/**
 * A page of commands, newest first.
 *
 * @example
 * const page = await listCommands(db, '"tally"', commandFilter(new Query(url.searchParams)));
 */
export async function listCommands(
  db: Executor,
  s: string,
  f: CommandFilter,
): Promise<Page<CommandListItem>> {
  const rows = await db.query(listCommandsSql(s, f));
  return pageOf(rows, f.limit, toItem, (r) => encodeCursor('commands', [String(r.at_key), String(r.id)]));
}

function toItem(r: Row): CommandListItem {
  return {
    id: String(r.id),
    type: String(r.type),
    principal: String(r.principal),
    key: String(r.key),
    status: String(r.status),
    stepIndex: Number(r.step_index),
    attempts: Number(r.attempts),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
    finishedAt: iso(r.finished_at),
    nextAt: iso(r.next_at)!,
    pausedOn: (r.paused_on as string | null) ?? null,
    error: json(r.error) ?? null,
  };
}

// Event kinds the page picks out (they stay on the timeline too): messages a downstream sent in, and the
// undoing of a definite failure.
const MESSAGE = /message|duplicate|contradict/;
const COMPENSATION = /compensat/;

/**
 * Everything recorded about one command, as `tally inspect` reads it (commands/timeline.ts): the record,
 * its events with times and durations, outbound calls with the snapshot as sent and the answer, messages,
 * compensation and alerts (with who resolved them). `actions`: the operator actions that apply now.
 *
 * @example
 * const page = await commandPage(db, '"tally"', id, ['requeue']);
 */
export async function commandPage(
  db: Executor,
  s: string,
  id: string,
  actionsFor: (status: string, openAlerts: number) => string[],
): Promise<Record<string, unknown>> {
  const [raw] = await db.query(commandByIdSql(s, id));
  if (!raw) throw new TallyError('COMMAND_NOT_FOUND', 'no command has this id');
  const row = normalizeRow(raw);
  // The alerts again with who resolved them (the timeline's lack those); on a pool, beside the timeline.
  const [t, alerts] = await Promise.all([
    readTimeline(s, db, raw),
    db.query(listAlertsSql(s, { type: null, commandId: row.id, open: false, limit: 1000 })),
  ]);
  const start = t.events[0]?.at.getTime() ?? row.created_at.getTime();
  const events = t.events.map((e, i) => {
    const next = t.events[i + 1];
    return {
      id: e.id,
      kind: e.kind,
      step: e.step,
      data: e.data,
      at: e.at.toISOString(),
      sinceStartMs: e.at.getTime() - start,
      durationMs: next ? next.at.getTime() - e.at.getTime() : null,
    };
  });
  const c = t.command;
  const alertItems = alerts.map(alertJson);
  const open = alertItems.filter((a) => a.resolvedAt === null).length;
  return {
    command: {
      id: c.id,
      type: c.type,
      principal: c.principal,
      key: c.key,
      status: c.status,
      fingerprint: c.fingerprint,
      params: c.params,
      input: c.input,
      stepIndex: c.stepIndex,
      attempts: c.attempts,
      decisions: c.decisions,
      outputs: c.outputs,
      result: row.result ?? null,
      error: row.error ?? null,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      finishedAt: iso(row.finished_at),
      nextAt: iso(row.next_at),
      leaseOwner: row.lease_owner,
      leaseUntil: iso(row.lease_until),
      pausedOn: row.paused_on ?? null,
    },
    events,
    calls: t.calls.map((k) => ({
      step: k.step,
      downstreamKey: k.downstream_key,
      request: k.request,
      sends: k.sends,
      queries: k.queries,
      firstSentAt: iso(k.first_sent_at),
      lastSentAt: iso(k.last_sent_at),
      outcome: k.outcome,
      value: k.value,
      resolvedBy: k.resolved_by,
      resolvedAt: iso(k.resolved_at),
      createdAt: iso(k.created_at),
    })),
    messages: events.filter((e) => MESSAGE.test(e.kind)),
    compensation: events.filter((e) => COMPENSATION.test(e.kind)),
    alerts: alertItems,
    actions: actionsFor(c.status, open),
  };
}

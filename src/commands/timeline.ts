import type { Executor } from '../db/types.js';
import { normalizeRow } from './machine.js';
import { normalizeCall } from './resolve.js';
import { type CommandResult, toResult } from './result.js';
import { alertsSql, type CallRow, callsOfSql, eventsSql } from './sql.js';

export interface TimelineEvent {
  id: string;
  kind: string;
  step: string | null;
  data: unknown;
  at: Date;
}

export interface CommandAlert {
  id: string;
  commandId: string | null;
  commandType: string;
  kind: string;
  message: string;
  data: unknown;
  at: Date;
  resolvedAt: Date | null;
}

/** Everything recorded about one command, oldest event first. */
export interface Timeline {
  command: CommandResult & {
    fingerprint: string;
    params: unknown;
    input: unknown;
    stepIndex: number;
    decisions: Record<string, unknown>;
    outputs: Record<string, unknown>;
    nextAt: Date;
    leaseOwner: string | null;
    leaseUntil: Date | null;
  };
  calls: CallRow[];
  events: TimelineEvent[];
  alerts: CommandAlert[];
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

export function toAlert(r: Record<string, unknown>): CommandAlert {
  return {
    id: String(r.id),
    commandId: (r.command_id as string | null) ?? null,
    commandType: String(r.command_type),
    kind: String(r.kind),
    message: String(r.message),
    data: json(r.data) ?? null,
    at: date(r.at),
    resolvedAt: r.resolved_at ? date(r.resolved_at) : null,
  };
}

/**
 * Reads a command's timeline from `db` (`s` is the quoted schema); the command row is given.
 *
 * @example
 * const t = await readTimeline('"tally"', db, row);
 */
export async function readTimeline(s: string, db: Executor, raw: Record<string, unknown>): Promise<Timeline> {
  const row = normalizeRow(raw);
  const [calls, events, alerts] = [
    await db.query(callsOfSql(s, row.id)),
    await db.query(eventsSql(s, row.id)),
    await db.query(alertsSql(s, row.type, row.id, false)),
  ];
  return {
    command: {
      ...toResult(row, false),
      fingerprint: row.fingerprint,
      params: row.params,
      input: row.input,
      stepIndex: row.step_index,
      decisions: row.decisions,
      outputs: row.outputs,
      nextAt: row.next_at,
      leaseOwner: row.lease_owner,
      leaseUntil: row.lease_until,
    },
    calls: calls.map(normalizeCall),
    events: events.map((e) => ({
      id: String(e.id),
      kind: String(e.kind),
      step: (e.step as string | null) ?? null,
      data: json(e.data) ?? null,
      at: date(e.at),
    })),
    alerts: alerts.map(toAlert),
  };
}

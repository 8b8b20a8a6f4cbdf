import type { Executor } from '../db/types.js';
import type { CommandStore } from './dialect/index.js';
import { postgresStore } from './dialect/postgres.js';
import { normalizeRow } from './machine.js';
import { normalizeCall } from './resolve.js';
import { type CommandResult, toResult } from './result.js';
import type { CallRow } from './sql.js';

/**
 * Where a record lives: the command's own database, or the failover store that recorded it while the
 * primary was unreachable (decision 0035; the same word as `CommandResult.store`).
 */
export type TimelineStore = 'primary' | 'secondary';

export interface TimelineEvent {
  id: string;
  /** Which store recorded this event. */
  store: TimelineStore;
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

/** What the failover store holds about the command (its `command_intake` row). */
export interface IntakeRecord {
  /** The id it was recorded under (the primary command's id when it was moved there). */
  id: string;
  fingerprint: string;
  receivedAt: Date;
  /** When it was handed over to the primary (null: not yet — nothing of it has run). */
  handedOverAt: Date | null;
  /** moved (created on the primary, same id), merged (the key was there already), rejected (with other key parameters). */
  handover: 'moved' | 'merged' | 'rejected' | null;
  /** The primary command that answers for it once handed over. */
  primaryId: string | null;
}

/**
 * Whether each store was read: `read`, `unavailable` (unreachable; its records are missing from this
 * timeline), or `none` (no failover store configured).
 */
export interface TimelineStores {
  primary: 'read' | 'unavailable';
  secondary: 'read' | 'unavailable' | 'none';
}

/** Everything recorded about one command, oldest event first, from every store that holds it. */
export interface Timeline {
  command: Omit<CommandResult, 'store'> & {
    /** Where this command record comes from: the primary, or (not handed over yet, or the primary away) the failover store. */
    store: TimelineStore;
    fingerprint: string;
    params: unknown;
    input: unknown;
    stepIndex: number;
    decisions: Record<string, unknown>;
    outputs: Record<string, unknown>;
    /**
     * When the worker may take it next. On a record only the failover store holds: when it was recorded
     * (it is scheduled once handed over; `nextAttemptAt` is null).
     */
    nextAt: Date;
    leaseOwner: string | null;
    leaseUntil: Date | null;
  };
  /** Outbound calls (only on the primary: nothing runs on the failover store). */
  calls: CallRow[];
  /** Both stores' events merged by time (each store's own order kept; at equal times the secondary's first). */
  events: TimelineEvent[];
  /** Alerts (only on the primary). */
  alerts: CommandAlert[];
  /** The failover store's record of this command, when it has one. */
  intake: IntakeRecord | null;
  stores: TimelineStores;
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
export function readTimeline(s: string, db: Executor, raw: Record<string, unknown>): Promise<Timeline> {
  return readTimelineFrom(postgresStore(s), db, raw);
}

/**
 * Reads a command's timeline through its dialect's store (`commandStore(config)`); the command row is given.
 *
 * @example
 * const t = await readTimelineFrom(commandStore(config), config.db, row);
 */
export async function readTimelineFrom(
  store: CommandStore,
  db: Executor,
  raw: Record<string, unknown>,
): Promise<Timeline> {
  const row = normalizeRow(raw);
  const [calls, events, alerts] = [
    await store.callsOf(db, row.id),
    await store.events(db, row.id),
    await store.alerts(db, row.type, row.id, false),
  ];
  return {
    command: {
      ...toResult(row, false),
      store: 'primary',
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
      store: 'primary' as const,
      kind: String(e.kind),
      step: (e.step as string | null) ?? null,
      data: json(e.data) ?? null,
      at: date(e.at),
    })),
    alerts: alerts.map(toAlert),
    intake: null,
    stores: { primary: 'read', secondary: 'none' },
  };
}

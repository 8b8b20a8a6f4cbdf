import type { Executor } from '../db/types.js';
import type { Outcome, QueryAnswer, ResolvedStep } from './definition.js';
import type { CommandStore } from './dialect/index.js';
import type { Draft } from './machine.js';
import type { CallRow } from './sql.js';

/** A definite answer about a call, whoever brought it: the reply, a query, or an inbound message. */
export type Definite =
  | { outcome: 'success'; value?: unknown }
  | { outcome: 'failure'; reason: string; details?: Record<string, unknown> };

export type Resolution = 'recorded' | 'duplicate' | 'contradiction' | 'ignored';

export function isDefinite(o: Outcome | QueryAnswer | null | undefined): o is Definite {
  if (!o || typeof o !== 'object') return false;
  if (o.outcome === 'success') return true;
  return o.outcome === 'failure' && typeof (o as { reason?: unknown }).reason === 'string';
}

export function normalizeCall(r: Record<string, unknown>): CallRow {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  const date = (v: unknown) =>
    v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));
  return {
    ...(r as unknown as CallRow),
    request: json(r.request),
    value: json(r.value) ?? null,
    sends: Number(r.sends),
    queries: Number(r.queries),
    first_sent_at: date(r.first_sent_at),
    last_sent_at: date(r.last_sent_at),
    resolved_at: date(r.resolved_at),
    created_at: date(r.created_at)!,
  };
}

export async function readCall(
  tx: Executor,
  store: CommandStore,
  id: string,
  step: string,
): Promise<CallRow | null> {
  const row = await store.call(tx, id, step);
  return row ? normalizeCall(row) : null;
}

/** Moves the command on from a call's final outcome (recorded earlier or just now). */
export function applyOutcome(d: Draft, step: ResolvedStep<unknown>, o: Definite): void {
  if (o.outcome === 'success') d.stepDone(step.name, o.value ?? null);
  else d.failDefinitely(step.name, o.reason, o.details);
}

/** What a message or reply said, as its events record it. */
export function saidOf(o: Definite, via: Via) {
  return { via, outcome: o.outcome, ...(o.outcome === 'failure' ? { reason: o.reason } : {}) };
}

/** What a call's outcome is stored with: the success value, or the failure's reason and details. */
export function storedValue(o: Definite): unknown {
  return o.outcome === 'success' ? (o.value ?? null) : { reason: o.reason, details: o.details ?? null };
}

export type Via = 'reply' | 'query' | 'notify';

/** Writes the outcome on the call if it has none yet (a resolved call is never overwritten); says if it did. */
export async function recordOutcome(
  tx: Executor,
  d: Draft,
  step: ResolvedStep<unknown>,
  o: Definite,
  via: Via,
): Promise<boolean> {
  return d.store.resolveCall(tx, {
    id: d.row.id,
    step: step.name,
    outcome: o.outcome,
    value: JSON.stringify(storedValue(o)),
    via,
    at: d.now,
  });
}

/** The command moves on from an outcome recorded on its call, with the event that says who brought it. */
export function applyRecorded(d: Draft, step: ResolvedStep<unknown>, o: Definite, via: Via): void {
  d.events.push({ kind: 'outcome', step: step.name, data: { ...saidOf(o, via), value: storedValue(o) } });
  applyOutcome(d, step, o);
}

/**
 * Records a definite answer on the call, once, under the command's row lock. A second answer that
 * agrees is absorbed; one that contradicts the recorded outcome raises an alert and changes nothing.
 */
export async function resolveCall(
  tx: Executor,
  d: Draft,
  step: ResolvedStep<unknown>,
  o: Definite,
  via: Via,
): Promise<Resolution> {
  const row = d.row;
  const said = saidOf(o, via);
  const waiting =
    row.step_index === step.index && (row.status === 'pending' || row.status === 'needs_attention');
  if (waiting) {
    // The common case first: record it if the call has no outcome yet (the UPDATE says whether it did);
    // only when it did not is the call read, to tell a duplicate from a contradiction.
    if (await recordOutcome(tx, d, step, o, via)) {
      applyRecorded(d, step, o, via);
      return 'recorded';
    }
  }
  const call = await readCall(tx, d.store, row.id, step.name);
  if (!call) return 'ignored';
  if (call.outcome === null) {
    // Not waiting for this call (the command moved on, or it is not this step's turn).
    d.events.push({ kind: 'message_ignored', step: step.name, data: said });
    return 'ignored';
  }
  if (call.outcome === o.outcome) {
    d.events.push({ kind: 'duplicate', step: step.name, data: said });
    return 'duplicate';
  }
  d.events.push({ kind: 'contradiction', step: step.name, data: { ...said, recorded: call.outcome } });
  d.alerts.push({
    kind: 'contradicting_message',
    message: `a ${via} reported ${o.outcome} for step ${step.name}, but ${call.outcome} is recorded; the recorded outcome stands`,
    data: {
      step: step.name,
      via,
      reported: o.outcome,
      recorded: call.outcome,
      downstreamKey: call.downstream_key,
    },
  });
  return 'contradiction';
}

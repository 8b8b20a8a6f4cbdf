import { intakeResult } from './intake.js';
import type { IntakeRow } from './intake-sql.js';
import type { IntakeRecord, Timeline, TimelineEvent, TimelineStores } from './timeline.js';

// Putting the failover store's record of a command beside the primary's (decision 0037). Pure: the
// library (timeline-failover.ts) and `tally inspect` read the two stores their own way, then merge here.

/** The failover store's record, as a timeline shows it. */
export function intakeRecord(r: IntakeRow): IntakeRecord {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    receivedAt: r.received_at,
    handedOverAt: r.handed_over_at,
    handover: r.handover,
    primaryId: r.primary_id,
  };
}

/**
 * What the failover store recorded, as events: `submitted` when it took the request (nothing ran there),
 * and `handed_over` (how: moved, merged or rejected; to which primary command) once the primary had it.
 */
export function intakeEvents(r: IntakeRow): TimelineEvent[] {
  const events: TimelineEvent[] = [
    {
      id: `secondary:${r.id}:submitted`,
      store: 'secondary',
      kind: 'submitted',
      step: null,
      data: { fingerprint: r.fingerprint },
      at: r.received_at,
    },
  ];
  if (r.handed_over_at !== null) {
    events.push({
      id: `secondary:${r.id}:handed_over`,
      store: 'secondary',
      kind: 'handed_over',
      step: null,
      data: { handover: r.handover, primaryId: r.primary_id },
      at: r.handed_over_at,
    });
  }
  return events;
}

/**
 * Merges two stores' events by time. Each list keeps its own order (the primary's is the order it was
 * written in, which an injected clock may not make monotonic); at equal times the secondary's comes
 * first, as it recorded the request first.
 */
export function mergeEvents(primary: TimelineEvent[], secondary: TimelineEvent[]): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < primary.length || j < secondary.length) {
    const p = primary[i];
    const s = secondary[j];
    if (s && (!p || s.at.getTime() <= p.at.getTime())) {
      out.push(s);
      j++;
    } else {
      out.push(p!);
      i++;
    }
  }
  return out;
}

/** A primary timeline with what the failover store holds of the same command (`row`, or none). */
export function withIntake(
  t: Timeline,
  row: IntakeRow | null,
  secondary: TimelineStores['secondary'],
): Timeline {
  return {
    ...t,
    events: row ? mergeEvents(t.events, intakeEvents(row)) : t.events,
    intake: row ? intakeRecord(row) : null,
    stores: { ...t.stores, secondary },
  };
}

/**
 * The timeline of a command only the failover store can show: recorded there and not handed over yet,
 * or handed over while the primary cannot be read now. Pending, nothing run, no calls.
 */
export function intakeTimeline(r: IntakeRow, primary: TimelineStores['primary']): Timeline {
  return {
    command: {
      ...intakeResult(r, false),
      store: 'secondary',
      fingerprint: r.fingerprint,
      params: r.params,
      input: r.input,
      stepIndex: 0,
      decisions: {},
      outputs: {},
      nextAt: r.received_at,
      leaseOwner: null,
      leaseUntil: null,
    },
    calls: [],
    events: intakeEvents(r),
    alerts: [],
    intake: intakeRecord(r),
    stores: { primary, secondary: 'read' },
  };
}

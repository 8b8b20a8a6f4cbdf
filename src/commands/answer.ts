import type { Executor } from '../db/types.js';
import { breakerQuiet, recordReach } from './breaker.js';
import type { CommandRuntime } from './context.js';
import type { Outcome, QueryAnswer, ResolvedStep } from './definition.js';
import { commandStore } from './dialect/index.js';
import { ACTIVE, CommandMoved, Draft, lockRow } from './machine.js';
import { pauseOrFlag } from './pause.js';
import type { Plan } from './plan.js';
import { applyRecorded, type Definite, isDefinite, resolveCall, storedValue } from './resolve.js';
import { type CommandRow, insertAlertSql } from './sql.js';

type CallStepR = Extract<ResolvedStep<unknown>, { kind: 'call' }>;

/** How a call went, for its downstream's breaker. */
export interface Reach {
  unreachable: boolean;
  probe: boolean;
  error: string;
  /** Set by recordAnswer: this answer closed an open breaker (its paused commands wake after commit). */
  closed?: boolean;
}

/**
 * Records what a send or query brought back. A definite answer is recorded against the command as the
 * transaction that recorded the I/O left it (`known`), without locking it first: the save applies only if
 * the command still says what it said then (compare-and-set, as for the first step, decision 0024), and
 * the call's outcome only if nobody recorded one meanwhile. Either missed, nothing of it is kept and the
 * answer is recorded again the locked way, which tells duplicates and contradictions apart.
 */
export async function recordAnswer(
  rt: CommandRuntime,
  id: string,
  owner: string,
  step: CallStepR,
  what: 'send' | 'query',
  answer: Outcome | QueryAnswer,
  reach: Reach,
  known: CommandRow | null,
): Promise<Plan> {
  if (known && isDefinite(answer) && known.lease_owner === owner) {
    try {
      return await recordDefiniteUnlocked(rt, owner, step, what, answer, reach, known);
    } catch (err) {
      if (!(err instanceof CommandMoved)) throw err;
      reach.closed = undefined;
    }
  }
  return recordAnswerLocked(rt, id, owner, step, what, answer, reach);
}

async function recordDefiniteUnlocked(
  rt: CommandRuntime,
  owner: string,
  step: CallStepR,
  what: 'send' | 'query',
  answer: Definite,
  reach: Reach,
  known: CommandRow,
): Promise<Plan> {
  const { config, spec } = rt;
  const via = what === 'send' ? 'reply' : 'query';
  const record = async (db: Executor): Promise<Plan> => {
    const d = new Draft(commandStore(config), known, spec, config.clock(), true);
    d.keepLease(owner);
    applyRecorded(d, step, answer, via);
    // One statement: the command's compare-and-set save (its row lock first, in the order every other
    // writer takes them), then the call's outcome. The outcome cannot have been written meanwhile when
    // the save applied: whoever writes one moves the command on under its lock, and the save would
    // have found it moved.
    const { row, settled } = await d.saveSettling(db, {
      step: step.name,
      outcome: answer.outcome,
      value: JSON.stringify(storedValue(answer)),
      via,
    });
    if (!settled) throw new CommandMoved(known.id);
    if (step.breaker) await noteReach(db, rt, step, reach, owner, d.now, known.id);
    return ACTIVE.has(row.status) ? { kind: 'again' } : { kind: 'stop', row };
  };
  // The breaker's record, when it must be written, belongs to the same transaction; usually it need not be.
  if (step.breaker && !breakerQuiet(config, step.downstream, reach)) {
    return config.db.transaction((tx) => record(tx));
  }
  return record(config.db);
}

/** The breaker hears how the call went; an answer that opens it raises an alert. */
async function noteReach(
  tx: Executor,
  rt: CommandRuntime,
  step: CallStepR,
  reach: Reach,
  owner: string,
  now: Date,
  id: string,
): Promise<Awaited<ReturnType<typeof recordReach>> | null> {
  const { config, spec } = rt;
  const breaker = step.breaker;
  if (!breaker) return null;
  const r = await recordReach(
    tx,
    config,
    step.downstream,
    breaker,
    reach.probe ? owner : null,
    reach.unreachable,
    reach.error,
    now,
  );
  reach.closed = r.closed;
  if (r.opened) {
    await tx.query(
      insertAlertSql(config.s, {
        id,
        type: spec.name,
        kind: 'downstream_unreachable',
        message: `downstream ${step.downstream} could not be reached ${r.row?.failures} times in a row: its breaker is open; sends stop and a probe goes out every ${breaker.probeMs} ms or more`,
        data: { downstream: step.downstream, failures: r.row?.failures, error: reach.error },
        at: now,
      }),
    );
  }
  return r;
}

async function recordAnswerLocked(
  rt: CommandRuntime,
  id: string,
  owner: string,
  step: CallStepR,
  what: 'send' | 'query',
  answer: Outcome | QueryAnswer,
  reach: Reach,
): Promise<Plan> {
  const { config, spec } = rt;
  return config.db.transaction(async (tx) => {
    const store = commandStore(config);
    const row = await lockRow(tx, store, id);
    const mine = row.lease_owner === owner;
    const d = new Draft(store, row, spec, config.clock());
    const via = what === 'send' ? 'reply' : 'query';
    let breakerOpen = false;
    const r = await noteReach(tx, rt, step, reach, owner, d.now, id);
    if (r) {
      breakerOpen = r.row?.state === 'open';
      if (
        r.verdict === 'open' &&
        !isDefinite(answer) &&
        mine &&
        row.status === 'pending' &&
        row.step_index === step.index
      ) {
        // Sent while the breaker was open (the probe) or opened by others meanwhile: no attempt spent.
        d.events.push({ kind: 'unreachable', step: step.name, data: { via, error: reach.error } });
        return pauseOrFlag(tx, d, step, r.row?.probe_at ?? null);
      }
    }
    if (isDefinite(answer)) {
      if (mine && ACTIVE.has(row.status)) d.keepLease(owner);
      await resolveCall(tx, d, step, answer, via);
      const saved = await d.save(tx);
      return mine && ACTIVE.has(saved.status) ? { kind: 'again' } : { kind: 'stop', row: saved };
    }
    const reason =
      answer?.outcome === 'not_found' ? 'not_found' : ((answer as { reason?: string })?.reason ?? 'unknown');
    if (!mine || row.status !== 'pending' || row.step_index !== step.index) {
      // Someone else moved on meanwhile; an unknown answer adds nothing to what they know.
      return { kind: 'stop', row };
    }
    if (what === 'query' && step.resend) {
      // "Not found" (or no answer) is not a failure: re-send the stored request in this same attempt.
      d.keepLease(owner);
      d.events.push({ kind: 'query_answer', step: step.name, data: { outcome: 'unknown', reason } });
      await d.save(tx);
      return { kind: 'again' };
    }
    d.attemptFailed('unknown', step.name, { via, reason });
    if (breakerOpen && d.row.status === 'pending') d.pause(step.name, step.downstream, null);
    return { kind: 'stop', row: await d.save(tx) };
  });
}

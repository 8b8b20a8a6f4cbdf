import type { TallyConfig } from '../config.js';
import type { Executor } from '../db/types.js';
import { gate, recordReach, unreachableAnswer, wakePaused } from './breaker.js';
import { asStored } from './canonical.js';
import { type CommandRuntime, describeError, inCommandScope, stepContext } from './context.js';
import type { Outcome, QueryAnswer, Reply, ResolvedStep } from './definition.js';
import { ACTIVE, Draft, lockRow } from './machine.js';
import type { Plan } from './plan.js';
import { applyOutcome, type Definite, isDefinite, normalizeCall, readCall, resolveCall } from './resolve.js';
import { type CallRow, insertAlertSql, insertCallSql, markCallSql } from './sql.js';

type CallStepR = Extract<ResolvedStep<unknown>, { kind: 'call' }>;

/** The downstream key: one per command and step, so it maps 1:1 to the head idempotency key. */
export function downstreamKeyOf(commandId: string, step: string): string {
  return `${commandId}.${step}`;
}

/** The driver of a call: Tally's config (for the breakers) and who holds the command's lease. */
export interface CallDriver {
  config: TallyConfig;
  owner: string;
}

/**
 * Records a send or query as due (with its event) before it happens; the I/O runs after commit. Its
 * downstream's breaker decides first: closed, it goes; open, it goes only as the probe, else the command
 * pauses without spending an attempt (or, past its deadline, is flagged).
 */
async function recordIo(
  tx: Executor,
  io: CallDriver,
  d: Draft,
  step: CallStepR,
  call: CallRow,
  what: 'send' | 'query',
): Promise<Plan> {
  let probe = false;
  if (step.breaker) {
    const g = await gate(tx, io.config, step.downstream, io.owner, d.spec.leaseMs, d.now);
    if (g.kind === 'pause') return pauseOrFlag(tx, d, step, g.probeAt);
    probe = g.probe;
  }
  const downstreamKey = call.downstream_key;
  const [m] = await tx.query<{ n: number }>(markCallSql(d.s, d.row.id, step.name, what, d.now));
  const attempt = Number(m!.n);
  d.row.paused_on = null;
  d.events.push({
    kind: what,
    step: step.name,
    data: { downstreamKey, n: attempt, ...(probe ? { probe: step.downstream } : {}) },
  });
  await d.save(tx);
  return { kind: 'io', what, step: step.name, attempt, call, probe };
}

/** The downstream is behind an open breaker: pause (no attempt spent), or flag once the deadline passed. */
async function pauseOrFlag(tx: Executor, d: Draft, step: CallStepR, probeAt: Date | null): Promise<Plan> {
  if (d.now.getTime() >= d.deadline.getTime()) {
    d.flag(
      step.name,
      `command ${d.spec.name} reached its deadline while downstream ${step.downstream} was unreachable (breaker open)`,
      { why: 'deadline', downstream: step.downstream, deadline: d.deadline },
    );
  } else {
    d.pause(step.name, step.downstream, probeAt);
  }
  return { kind: 'stop', row: await d.save(tx) };
}

/**
 * Inside the step's locked transaction: store the exact request before the first send, then record
 * the send (or query) that is due before it happens. The I/O itself runs after commit.
 */
export async function planCall(
  tx: Executor,
  io: CallDriver,
  d: Draft,
  step: CallStepR,
  queried: ReadonlySet<string>,
): Promise<Plan> {
  const id = d.row.id;
  let call = await readCall(tx, d.s, id, step.name);
  if (!call) {
    const ctx = stepContext(tx, d, step.name);
    const request = asStored(
      await inCommandScope(ctx, () => step.call.request(ctx)),
      `step ${step.name} request`,
    );
    const downstreamKey = downstreamKeyOf(id, step.name);
    const [inserted] = await tx.query(
      insertCallSql(d.s, { id, step: step.name, downstreamKey, request: JSON.stringify(request), at: d.now }),
    );
    d.events.push({ kind: 'snapshot', step: step.name, data: { downstreamKey, request } });
    call = normalizeCall(inserted!); // what the insert stored (RETURNING), no second read
  }
  if (call.outcome !== null) {
    // Resolved by a message while nobody was driving: move on from the recorded outcome.
    const v = call.value as { reason?: string; details?: Record<string, unknown> } | null;
    const o: Definite =
      call.outcome === 'success'
        ? { outcome: 'success', value: call.value }
        : {
            outcome: 'failure',
            reason: v?.reason ?? 'failure',
            ...(v?.details ? { details: v.details } : {}),
          };
    applyOutcome(d, step, o);
    const saved = await d.save(tx);
    return ACTIVE.has(saved.status) ? { kind: 'again' } : { kind: 'stop', row: saved };
  }
  const firstSent = call.first_sent_at?.getTime();
  const queryAt = firstSent === undefined ? null : firstSent + step.queryAfterMs;
  if (step.call.query && queryAt !== null && d.now.getTime() >= queryAt && !queried.has(step.name)) {
    return recordIo(tx, io, d, step, call, 'query');
  }
  if (call.sends === 0 || step.resend) {
    return recordIo(tx, io, d, step, call, 'send');
  }
  // No re-send allowed: only a query (once due) or a message can tell.
  if (step.call.query && queryAt !== null && d.now.getTime() < queryAt) {
    d.row.next_at = new Date(queryAt);
    d.release();
    d.events.push({ kind: 'waiting', step: step.name, data: { until: d.row.next_at } });
    return { kind: 'stop', row: await d.save(tx) };
  }
  d.attemptFailed('unknown', step.name, { reason: 'no answer yet' });
  return { kind: 'stop', row: await d.save(tx) };
}

function defaultClassify(reply: Reply): Outcome {
  if (!reply.ok) return { outcome: 'unknown', reason: String(describeError(reply.error).name) };
  const v = reply.value as Outcome | undefined;
  if (
    v &&
    typeof v === 'object' &&
    (v.outcome === 'failure' || v.outcome === 'unknown' || v.outcome === 'success')
  ) {
    return v;
  }
  return { outcome: 'success', value: reply.value };
}

/** Sends the stored request verbatim (or queries by key), then records what came back. */
export async function performCall(
  rt: CommandRuntime,
  id: string,
  owner: string,
  io: Extract<Plan, { kind: 'io' }>,
): Promise<Plan> {
  const { spec } = rt;
  const step = spec.steps.find((x) => x.name === io.step) as CallStepR;
  const call = io.call; // read under the lock that recorded this send; the request never changes
  let answer: Outcome | QueryAnswer;
  let reply: Reply | null = null;
  let thrown: unknown = null;
  if (io.what === 'send') {
    try {
      reply = {
        ok: true,
        value: await step.call.send(call.request, { key: call.downstream_key, attempt: io.attempt }),
      };
    } catch (error) {
      reply = { ok: false, error };
    }
    try {
      answer = (step.call.classify ?? defaultClassify)(reply);
    } catch (err) {
      answer = { outcome: 'unknown', reason: `classify threw ${describeError(err).name}` };
    }
  } else {
    try {
      answer = await step.call.query!(call.downstream_key, call.request);
    } catch (err) {
      thrown = err;
      answer = { outcome: 'unknown', reason: String(describeError(err).name) };
    }
  }
  const unreachable =
    unreachableAnswer(reply, answer) ||
    (thrown !== null && unreachableAnswer(null, { outcome: 'error', error: thrown }));
  const failure = reply && !reply.ok ? reply.error : thrown;
  if (answer?.outcome === 'success' && 'value' in answer) {
    answer = { ...answer, value: asStored(answer.value, `step ${step.name} reply`) };
  }
  const reach: Reach = {
    unreachable,
    probe: io.probe,
    error: failure === null ? 'unreachable' : errorLabel(failure),
  };
  const plan = await recordAnswer(rt, id, owner, step, io.what, answer, reach);
  if (reach.closed) await wakePaused(rt.config, step.downstream);
  return plan;
}

/** What an unreachable call threw, for the breaker's record: a name and a network code, no parameters. */
function errorLabel(err: unknown): string {
  const d = describeError(err);
  let code = d.code;
  for (let e = err as { cause?: unknown; code?: unknown } | null, i = 0; !code && e && i < 5; i++) {
    if (typeof e.code === 'string') code = e.code;
    e = e.cause as typeof e;
  }
  return `${String(d.name)}${code ? ` (${String(code)})` : ''}`;
}

interface Reach {
  unreachable: boolean;
  probe: boolean;
  error: string;
  /** Set by recordAnswer: this answer closed an open breaker (its paused commands wake after commit). */
  closed?: boolean;
}

async function recordAnswer(
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
    const row = await lockRow(tx, config.s, id);
    const mine = row.lease_owner === owner;
    const d = new Draft(config.s, row, spec, config.clock());
    const via = what === 'send' ? 'reply' : 'query';
    let breakerOpen = false;
    if (step.breaker) {
      const r = await recordReach(
        tx,
        config,
        step.downstream,
        step.breaker,
        reach.probe ? owner : null,
        reach.unreachable,
        reach.error,
        d.now,
      );
      reach.closed = r.closed;
      breakerOpen = r.row?.state === 'open';
      if (r.opened) {
        await tx.query(
          insertAlertSql(config.s, {
            id,
            type: spec.name,
            kind: 'downstream_unreachable',
            message: `downstream ${step.downstream} could not be reached ${r.row?.failures} times in a row: its breaker is open; sends stop and a probe goes out every ${step.breaker.probeMs} ms or more`,
            data: { downstream: step.downstream, failures: r.row?.failures, error: reach.error },
            at: d.now,
          }),
        );
      }
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

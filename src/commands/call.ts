import type { TallyConfig } from '../config.js';
import type { Executor } from '../db/types.js';
import { type Reach, recordAnswer } from './answer.js';
import { gate, unreachableAnswer, wakePaused } from './breaker.js';
import { asStored } from './canonical.js';
import { type CommandRuntime, describeError, inCommandScope, stepContext } from './context.js';
import type { Outcome, QueryAnswer, Reply, ResolvedStep, SendMeta } from './definition.js';
import { ACTIVE, type Draft } from './machine.js';
import { type CallHook, observedCall } from './observe-hooks.js';
import { pauseOrFlag } from './pause.js';
import type { Plan } from './plan.js';
import { applyOutcome, type Definite, readCall } from './resolve.js';
import type { CallRow } from './sql.js';

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
  const n = await d.store.markCall(tx, d.row.id, step.name, what, d.now);
  return sendRecorded(tx, d, step, call, what, n, probe);
}

function sendData(call: CallRow, attempt: number, probe: boolean, step: CallStepR): Record<string, unknown> {
  return { downstreamKey: call.downstream_key, n: attempt, ...(probe ? { probe: step.downstream } : {}) };
}

/** The send or query is counted: its event, and the plan to perform it once this transaction commits. */
async function sendRecorded(
  tx: Executor,
  d: Draft,
  step: CallStepR,
  call: CallRow,
  what: 'send' | 'query',
  attempt: number,
  probe: boolean,
): Promise<Plan> {
  d.row.paused_on = null;
  d.events.push({ kind: what, step: step.name, data: sendData(call, attempt, probe, step) });
  const row = await d.save(tx);
  return { kind: 'io', what, step: step.name, attempt, call, probe, row };
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
  const call = await readCall(tx, d.store, d.row.id, step.name);
  if (!call) return planFirstSend(tx, io, d, step, await buildRequest(tx, d, step));
  return planStoredCall(tx, io, d, step, call, queried);
}

/**
 * Right after a local step, in that step's transaction: plans the call step that follows, so the step's
 * effects, the stored request and the recorded first send commit together — one transaction and lock
 * fewer than a round of its own. Its call cannot be stored yet: the step before it has only now finished.
 * Returns null when the request cannot be built (it threw): the caller saves the step alone, and the
 * call's own round builds it again and records what went wrong.
 */
export async function planFollowingCall(
  tx: Executor,
  io: CallDriver,
  d: Draft,
  step: CallStepR,
): Promise<Plan | null> {
  const events = d.events.length;
  const decisions = { ...d.row.decisions };
  let request: unknown;
  try {
    request = await buildRequest(tx, d, step);
  } catch {
    d.events.length = events; // what the failed request decided is not kept with the step
    d.row.decisions = decisions;
    return null;
  }
  return planFirstSend(tx, io, d, step, request);
}

async function buildRequest(tx: Executor, d: Draft, step: CallStepR): Promise<unknown> {
  const ctx = stepContext(tx, d, step.name);
  return asStored(await inCommandScope(ctx, () => step.call.request(ctx)), `step ${step.name} request`);
}

/**
 * A call seen for the first time: store its request, and — unless its downstream's breaker holds it —
 * count its first send in the same statement.
 */
async function planFirstSend(
  tx: Executor,
  io: CallDriver,
  d: Draft,
  step: CallStepR,
  request: unknown,
): Promise<Plan> {
  const id = d.row.id;
  const downstreamKey = downstreamKeyOf(id, step.name);
  const stored = { id, step: step.name, downstreamKey, request: JSON.stringify(request), at: d.now };
  d.events.push({ kind: 'snapshot', step: step.name, data: { downstreamKey, request } });
  let probe = false;
  if (step.breaker) {
    const g = await gate(tx, io.config, step.downstream, io.owner, d.spec.leaseMs, d.now);
    if (g.kind === 'pause') {
      await d.store.insertCall(tx, stored);
      return pauseOrFlag(tx, d, step, g.probeAt);
    }
    probe = g.probe;
  }
  // The call row as this statement stores it, built here rather than read back.
  const call: CallRow = {
    command_id: id,
    step: step.name,
    downstream_key: downstreamKey,
    request,
    sends: 1,
    queries: 0,
    first_sent_at: d.now,
    last_sent_at: d.now,
    outcome: null,
    value: null,
    resolved_by: null,
    resolved_at: null,
    created_at: d.now,
  };
  d.row.paused_on = null;
  d.events.push({ kind: 'send', step: step.name, data: sendData(call, 1, probe, step) });
  const row = await d.saveInsertingCall(tx, { step: step.name, downstreamKey, request: stored.request });
  return { kind: 'io', what: 'send', step: step.name, attempt: 1, call, probe, row };
}

async function planStoredCall(
  tx: Executor,
  io: CallDriver,
  d: Draft,
  step: CallStepR,
  call: CallRow,
  queried: ReadonlySet<string>,
): Promise<Plan> {
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
  const o = rt.config.observer;
  if (!o.on) return performCallOnce(rt, id, owner, io, null);
  const step = rt.spec.steps.find((x) => x.name === io.step) as CallStepR;
  const c = {
    type: rt.spec.name,
    step: io.step,
    downstream: step.downstream,
    what: io.what,
    attempt: io.attempt,
  };
  return observedCall(o, c, (hook) => performCallOnce(rt, id, owner, io, hook));
}

async function performCallOnce(
  rt: CommandRuntime,
  id: string,
  owner: string,
  io: Extract<Plan, { kind: 'io' }>,
  hook: CallHook | null,
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
        value: await step.call.send(call.request, sendMeta(call.downstream_key, io.attempt, hook)),
      };
    } catch (error) {
      reply = { ok: false, error };
    }
    try {
      answer = (step.call.classify ?? defaultClassify)(reply);
    } catch (err) {
      answer = { outcome: 'unknown', reason: `classify threw ${describeError(err).name}` };
    }
    if (answer.outcome === 'unknown' && rt.config.mutant === 'compensate-on-unknown') {
      answer = { outcome: 'failure', reason: 'mutant' }; // the simulator's deliberate bug (decision 0152)
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
  hook?.answered(answer?.outcome ?? 'unknown');
  const reach: Reach = {
    unreachable,
    probe: io.probe,
    error: failure === null ? 'unreachable' : errorLabel(failure),
  };
  const plan = await recordAnswer(rt, id, owner, step, io.what, answer, reach, io.row);
  if (reach.closed) await wakePaused(rt.config, step.downstream);
  return plan;
}

/** The send's meta; with tracing on, the call span's W3C traceparent to put on the request. */
function sendMeta(key: string, attempt: number, hook: CallHook | null): SendMeta {
  const traceparent = hook?.traceparent;
  return traceparent ? { key, attempt, traceparent } : { key, attempt };
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

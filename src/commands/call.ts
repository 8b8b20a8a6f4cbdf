import type { Executor } from '../db/types.js';
import { asStored } from './canonical.js';
import { type CommandRuntime, describeError, inCommandScope, stepContext } from './context.js';
import type { Outcome, QueryAnswer, Reply, ResolvedStep } from './definition.js';
import type { Plan } from './drive.js';
import { ACTIVE, Draft, lockRow } from './machine.js';
import { applyOutcome, type Definite, isDefinite, normalizeCall, readCall, resolveCall } from './resolve.js';
import { type CallRow, insertCallSql, markCallSql } from './sql.js';

type CallStepR = Extract<ResolvedStep<unknown>, { kind: 'call' }>;

/** The downstream key: one per command and step, so it maps 1:1 to the head idempotency key. */
export function downstreamKeyOf(commandId: string, step: string): string {
  return `${commandId}.${step}`;
}

/** Records a send or query as due (with its event) before it happens; the I/O runs after commit. */
async function recordIo(
  tx: Executor,
  d: Draft,
  step: string,
  call: CallRow,
  what: 'send' | 'query',
): Promise<Plan> {
  const downstreamKey = call.downstream_key;
  const [m] = await tx.query<{ n: number }>(markCallSql(d.s, d.row.id, step, what, d.now));
  const attempt = Number(m!.n);
  d.events.push({ kind: what, step, data: { downstreamKey, n: attempt } });
  await d.save(tx);
  return { kind: 'io', what, step, attempt, call };
}

/**
 * Inside the step's locked transaction: store the exact request before the first send, then record
 * the send (or query) that is due before it happens. The I/O itself runs after commit.
 */
export async function planCall(
  tx: Executor,
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
    return recordIo(tx, d, step.name, call, 'query');
  }
  if (call.sends === 0 || step.resend) {
    return recordIo(tx, d, step.name, call, 'send');
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
  if (io.what === 'send') {
    let reply: Reply;
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
      answer = { outcome: 'unknown', reason: String(describeError(err).name) };
    }
  }
  if (answer?.outcome === 'success' && 'value' in answer) {
    answer = { ...answer, value: asStored(answer.value, `step ${step.name} reply`) };
  }
  return recordAnswer(rt, id, owner, step, io.what, answer);
}

async function recordAnswer(
  rt: CommandRuntime,
  id: string,
  owner: string,
  step: CallStepR,
  what: 'send' | 'query',
  answer: Outcome | QueryAnswer,
): Promise<Plan> {
  const { config, spec } = rt;
  return config.db.transaction(async (tx) => {
    const row = await lockRow(tx, config.s, id);
    const mine = row.lease_owner === owner;
    const d = new Draft(config.s, row, spec, config.clock());
    const via = what === 'send' ? 'reply' : 'query';
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
    return { kind: 'stop', row: await d.save(tx) };
  });
}

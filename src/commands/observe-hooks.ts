import type { Observer } from '../observe/observer.js';
import type { CommandResult } from './result.js';
import type { CommandRow } from './sql.js';

// The commands' metrics and spans (decision 0140). Hook sites call these only when `observer.on`, so with
// nothing configured the commands' code pays one property read per submit, step and call.

/** submit(): its span (the head request's trace context is stored from inside it), latency, answer. */
export function observedSubmit(
  o: Observer,
  type: string,
  run: () => Promise<CommandResult>,
): Promise<CommandResult> {
  const t = o.start();
  const attributes = { 'tally.command.type': type };
  return o.span(`tally.submit ${type}`, { attributes }, async (span) => {
    let outcome = 'error';
    try {
      const r = await run();
      outcome = r.replayed ? 'replayed' : r.status;
      span.set({
        'tally.command.id': r.id,
        'tally.command.status': r.status,
        'tally.command.replayed': r.replayed,
      });
      return r;
    } finally {
      o.count('tally_command_submits_total', type, outcome);
      o.seconds('tally_command_submit_seconds', t, type);
    }
  });
}

const ENDED = new Set(['succeeded', 'failed', 'needs_attention']);

/**
 * One drive (by a submit, a worker, a resume): only the lease holder drives, so a drive that stops on an
 * ended command is the one that ended it — counted once in tally_commands_total.
 */
export async function observedDrive(
  o: Observer,
  type: string,
  run: () => Promise<CommandRow>,
): Promise<CommandRow> {
  const row = await run();
  if (ENDED.has(row.status)) o.count('tally_commands_total', type, row.status);
  return row;
}

/** A local step's run (or the compensation): span and latency. */
export function observedStep<T>(o: Observer, type: string, step: string, run: () => Promise<T>): Promise<T> {
  const t = o.start();
  const attributes = { 'tally.command.type': type, 'tally.step': step };
  return o.span(`tally.step ${step}`, { attributes }, async () => {
    try {
      return await run();
    } finally {
      o.seconds('tally_command_step_seconds', t, type, step, 'local');
    }
  });
}

/** What performCall tells its hook: the traceparent to send, and the answer once classified. */
export interface CallHook {
  traceparent: string | null;
  answered(outcome: string): void;
}

/** An outbound send or query: a client span whose traceparent goes downstream, latency, answer. */
export function observedCall<T>(
  o: Observer,
  c: { type: string; step: string; downstream: string; what: 'send' | 'query'; attempt: number },
  run: (hook: CallHook) => Promise<T>,
): Promise<T> {
  const t = o.start();
  const attributes = {
    'tally.command.type': c.type,
    'tally.step': c.step,
    'tally.call.what': c.what,
    'tally.call.attempt': c.attempt,
    'peer.service': c.downstream,
  };
  return o.span(`tally.${c.what} ${c.step}`, { kind: 'client', attributes }, async (span) => {
    let outcome = 'error';
    try {
      return await run({
        traceparent: span.traceparent(),
        answered: (x) => {
          outcome = x;
          span.set({ 'tally.call.outcome': x });
        },
      });
    } finally {
      o.count('tally_command_calls_total', c.type, c.step, outcome);
      o.seconds('tally_command_step_seconds', t, c.type, c.step, c.what);
    }
  });
}

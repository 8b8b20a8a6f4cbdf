import type { Observer, SpanEnd, SpanHandle } from '../observe/observer.js';
import type { CommandResult } from './result.js';
import type { CommandRow } from './sql.js';

// The commands' metrics and spans (decision 0140). Hook sites call these only when `observer.on`, so with
// nothing configured the commands' code pays one property read per submit, step and call. On, each hook is
// one span around the work it is given and one small object that records the metrics (and the attributes
// known only at the end) as the work settles: no async wrapper of its own, no closures around the work.

/** submit(): its span (the head request's trace context is stored from inside it), latency, answer. */
export function observedSubmit(
  o: Observer,
  type: string,
  run: () => Promise<CommandResult>,
): Promise<CommandResult> {
  const end = new SubmitEnd(o, type);
  return o.span(`tally.submit ${type}`, { attributes: { 'tally.command.type': type } }, run, end);
}

class SubmitEnd implements SpanEnd<CommandResult> {
  readonly #o: Observer;
  readonly #type: string;
  readonly #t: number;
  constructor(o: Observer, type: string) {
    this.#o = o;
    this.#type = type;
    this.#t = o.start();
  }
  ended(span: SpanHandle, r: CommandResult | undefined, failed: boolean): void {
    let outcome = 'error';
    if (!failed && r) {
      outcome = r.replayed ? 'replayed' : r.status;
      span.set({
        'tally.command.id': r.id,
        'tally.command.status': r.status,
        'tally.command.replayed': r.replayed,
      });
    }
    this.#o.count('tally_command_submits_total', this.#type, outcome);
    this.#o.seconds('tally_command_submit_seconds', this.#t, this.#type);
  }
}

const ENDED = new Set(['succeeded', 'failed', 'needs_attention']);

/**
 * One drive (by a submit, a worker, a resume): only the lease holder drives, so a drive that stops on an
 * ended command is the one that ended it — counted once in tally_commands_total.
 */
export function observedDrive(
  o: Observer,
  type: string,
  run: () => Promise<CommandRow>,
): Promise<CommandRow> {
  return run().then((row) => {
    if (ENDED.has(row.status)) o.count('tally_commands_total', type, row.status);
    return row;
  });
}

/** A local step's run (or the compensation): span and latency. */
export function observedStep<T>(o: Observer, type: string, step: string, run: () => Promise<T>): Promise<T> {
  const end = new StepEnd<T>(o, type, step);
  return o.span(
    `tally.step ${step}`,
    { attributes: { 'tally.command.type': type, 'tally.step': step } },
    run,
    end,
  );
}

class StepEnd<T> implements SpanEnd<T> {
  readonly #o: Observer;
  readonly #type: string;
  readonly #step: string;
  readonly #t: number;
  constructor(o: Observer, type: string, step: string) {
    this.#o = o;
    this.#type = type;
    this.#step = step;
    this.#t = o.start();
  }
  ended(): void {
    this.#o.seconds('tally_command_step_seconds', this.#t, this.#type, this.#step, 'local');
  }
}

/** What performCall tells its hook: the traceparent to send, and the answer once classified. */
export interface CallHook {
  readonly traceparent: string | null;
  answered(outcome: string): void;
}

interface CallDescription {
  type: string;
  step: string;
  downstream: string;
  what: 'send' | 'query';
  attempt: number;
}

/** An outbound send or query: a client span whose traceparent goes downstream, latency, answer. */
export function observedCall<T>(
  o: Observer,
  c: CallDescription,
  run: (hook: CallHook) => Promise<T>,
): Promise<T> {
  const call = new CallObservation<T>(o, c);
  const attributes = {
    'tally.command.type': c.type,
    'tally.step': c.step,
    'tally.call.what': c.what,
    'tally.call.attempt': c.attempt,
    'peer.service': c.downstream,
  };
  return o.span(
    `tally.${c.what} ${c.step}`,
    { kind: 'client', attributes },
    (span) => run(call.in(span)),
    call,
  );
}

/** The call's hook and its end: the answer is kept until the span ends (its attribute, its counter). */
class CallObservation<T> implements CallHook, SpanEnd<T> {
  readonly #o: Observer;
  readonly #c: CallDescription;
  readonly #t: number;
  #span: SpanHandle | null = null;
  #outcome: string | null = null;
  constructor(o: Observer, c: CallDescription) {
    this.#o = o;
    this.#c = c;
    this.#t = o.start();
  }
  in(span: SpanHandle): this {
    this.#span = span;
    return this;
  }
  /** Formatted when read: a query sends none. */
  get traceparent(): string | null {
    return this.#span?.traceparent() ?? null;
  }
  answered(outcome: string): void {
    this.#outcome = outcome;
  }
  ended(span: SpanHandle): void {
    const c = this.#c;
    if (this.#outcome !== null) span.set({ 'tally.call.outcome': this.#outcome });
    this.#o.count('tally_command_calls_total', c.type, c.step, this.#outcome ?? 'error');
    this.#o.seconds('tally_command_step_seconds', this.#t, c.type, c.step, c.what);
  }
}

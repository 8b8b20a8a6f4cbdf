import type { Observer, SpanEnd, SpanHandle } from './observer.js';

// The worker's hooks (decision 0140): worker.ts calls these only when `observer.on`.

/** One worker round: its span, latency, and the rounds / claims / errors counters. */
export function observedRound<R extends { claimed: number; errors: number }>(
  o: Observer,
  worker: string,
  run: () => Promise<R>,
): Promise<R> {
  return o.span('tally.worker.round', { attributes: { 'tally.worker.id': worker } }, run, new RoundEnd<R>(o));
}

/** The round's counters and latency, recorded when it settles (a failed round counts nothing, as before). */
class RoundEnd<R extends { claimed: number; errors: number }> implements SpanEnd<R> {
  readonly #o: Observer;
  readonly #t: number;
  constructor(o: Observer) {
    this.#o = o;
    this.#t = o.start();
  }
  ended(span: SpanHandle, r: R | undefined, failed: boolean): void {
    if (failed || !r) return;
    const o = this.#o;
    span.set({ 'tally.worker.claimed': r.claimed, 'tally.worker.errors': r.errors });
    o.count('tally_worker_rounds_total');
    if (r.claimed > 0) o.count('tally_worker_claims_total', undefined, undefined, undefined, r.claimed);
    if (r.errors > 0) o.count('tally_worker_errors_total', undefined, undefined, undefined, r.errors);
    o.seconds('tally_worker_round_seconds', this.#t);
  }
}

/**
 * A worker's drive of one claimed command, traced: its span links to the head request's trace context,
 * stored with the command and returned by the claim (no statement of its own), so a retry an hour later
 * leads back to the request that started it.
 */
export function observedWorkerDrive<T>(
  o: Observer,
  c: { id: string; type: string; trace_context: string | null },
  run: () => Promise<T>,
): Promise<T> {
  if (!o.tracing) return run();
  const links = c.trace_context ? [c.trace_context] : [];
  const attributes = { 'tally.command.type': c.type, 'tally.command.id': c.id };
  return o.span(`tally.drive ${c.type}`, { attributes, links }, run);
}

import type { Executor } from '../db/types.js';
import type { Observer } from './observer.js';
import { traceContextSql } from './sql.js';

// The worker's hooks (decision 0140): worker.ts calls these only when `observer.on`.

/** One worker round: its span, latency, and the rounds / claims / errors counters. */
export function observedRound<R extends { claimed: number; errors: number }>(
  o: Observer,
  worker: string,
  run: () => Promise<R>,
): Promise<R> {
  const t = o.start();
  return o.span('tally.worker.round', { attributes: { 'tally.worker.id': worker } }, async (span) => {
    const r = await run();
    span.set({ 'tally.worker.claimed': r.claimed, 'tally.worker.errors': r.errors });
    o.count('tally_worker_rounds_total');
    if (r.claimed > 0) o.count('tally_worker_claims_total', undefined, undefined, undefined, r.claimed);
    if (r.errors > 0) o.count('tally_worker_errors_total', undefined, undefined, undefined, r.errors);
    o.seconds('tally_worker_round_seconds', t);
    return r;
  });
}

/**
 * A worker's drive of one claimed command, traced: its span links to the head request's stored trace
 * context (read by id — one statement, only when tracing is on), so a retry an hour later leads back to the
 * request that started it.
 */
export async function observedWorkerDrive<T>(
  o: Observer,
  db: Executor,
  s: string,
  c: { id: string; type: string },
  run: () => Promise<T>,
): Promise<T> {
  if (!o.tracing) return run();
  const [row] = await db.query<{ trace_context: string | null }>(traceContextSql(s, c.id));
  const links = row?.trace_context ? [row.trace_context] : [];
  const attributes = { 'tally.command.type': c.type, 'tally.command.id': c.id };
  return o.span(`tally.drive ${c.type}`, { attributes, links }, () => run());
}

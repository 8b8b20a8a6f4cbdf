import { AsyncLocalStorage } from 'node:async_hooks';

// The field fix from MISSION §3, kept as an explicit scope: every read inside it goes to the primary.
// AsyncLocalStorage carries it across awaits and keeps concurrent requests apart.
const forced = new AsyncLocalStorage<true>();

/**
 * Runs `fn` with every routed read sent to the primary, across awaits, timers and promise chains started
 * inside it — and only inside it: a concurrent request outside the scope keeps using replicas.
 *
 * Prefer causal tokens (`router.read(q, { token })`): they give read-your-writes and keep replicas busy.
 * This scope is for the few reads that must see the very latest state (a balance before a transfer).
 *
 * @example
 * const level = await forcePrimary(async () => {
 *   await router.execute({ text: 'UPDATE members SET level = $1 WHERE id = $2', values: [3, id] });
 *   return router.read({ text: 'SELECT level FROM members WHERE id = $1', values: [id] });
 * });
 */
export function forcePrimary<T>(fn: () => T): T {
  return forced.run(true, fn);
}

/**
 * True inside a `forcePrimary` scope.
 *
 * @example
 * forcePrimary(() => isPrimaryForced()) // true
 */
export function isPrimaryForced(): boolean {
  return forced.getStore() === true;
}

import type { Observer } from './observer.js';

/** A reconcile run, observed (decision 0140): its span, runs and drift found per entity type. */
export function observedReconcile<R extends { entities: readonly { entity: string; findings: number }[] }>(
  o: Observer,
  run: () => Promise<R>,
): Promise<R> {
  return o.span('tally.reconcile', {}, async (span) => {
    const r = await run();
    let found = 0;
    for (const e of r.entities) {
      o.count('tally_reconcile_runs_total', e.entity);
      if (e.findings > 0)
        o.count('tally_reconcile_drift_found_total', e.entity, undefined, undefined, e.findings);
      found += e.findings;
    }
    span.set({
      'tally.reconcile.entities': r.entities.map((e) => e.entity).join(','),
      'tally.reconcile.findings': found,
    });
    return r;
  });
}

/** An applied repair, observed: its span and drift repaired per entity type. */
export function observedRepair<
  R extends { repaired: number; keys: Readonly<Record<string, readonly string[]>> },
>(o: Observer, run: () => Promise<R>): Promise<R> {
  return o.span('tally.reconcile.repair', {}, async (span) => {
    const r = await run();
    for (const [entity, keys] of Object.entries(r.keys)) {
      if (keys.length > 0)
        o.count('tally_reconcile_drift_repaired_total', entity, undefined, undefined, keys.length);
    }
    span.set({ 'tally.reconcile.repaired': r.repaired });
    return r;
  });
}

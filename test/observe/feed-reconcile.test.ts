import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConsumer } from '../../src/feed/index.js';
import { routeDecisions } from '../../src/observe/metrics.js';
import { applyRepair, planRepair, reconcile } from '../../src/reconcile/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES, resourcesFixture } from '../support/resources.js';
import { memoryTracing } from './support/otel.js';

// Feed batches and reconcile runs, counted and traced after known work on PGlite (decision 0140).
describe('metrics and traces of feed batches and reconcile runs', () => {
  let t: TestDatabase;
  let tally: Tally;
  const registry = new Registry();
  const { exporter, tracer } = memoryTracing();
  let now = new Date('2026-01-01T00:00:00Z');

  beforeAll(async () => {
    t = await freshPGlite();
    await resourcesFixture(t.db, 3);
    tally = await createTally({
      db: t.db,
      clock: () => now,
      observe: { metrics: registry, tracing: tracer },
    });
  });
  afterAll(() => t.close());

  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)!.get()).values
      .filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))
      .reduce((a, x) => a + x.value, 0);

  it('counts feed batches and entries, their lag, and spans each batch as a CONSUMER', async () => {
    const res = tally.entity('resource', { table: 'resources', states: RESOURCE_STATES });
    await res.update({ keys: [1, 2, 3], set: { amount: 7 }, actor: 'test' });
    const c = await openConsumer(tally, 'mirror', { batchSize: 2 });
    now = new Date(now.getTime() + 30_000); // the entries are 30 s old when handled
    const seen: unknown[] = [];
    while ((await c.once(async ({ entries }) => void seen.push(...entries))) > 0) {}
    expect(seen).toHaveLength(3);
    expect(await value('tally_feed_batches_total', { consumer: 'mirror' })).toBe(2);
    expect(await value('tally_feed_entries_total', { consumer: 'mirror' })).toBe(3);
    expect(await value('tally_feed_lag_seconds', { consumer: 'mirror' })).toBeGreaterThanOrEqual(30);
    const batches = exporter.getFinishedSpans().filter((s) => s.name === 'process mirror');
    expect(batches.map((s) => s.attributes['messaging.batch.message_count'])).toEqual([2, 1]);
  });

  it('counts drift found by a reconcile run and drift repaired, with a span for each', async () => {
    const res = tally.getEntity('resource');
    await t.db.exec(`UPDATE resources SET amount = 999 WHERE id = 2`); // behind the log's back
    const report = await reconcile([res], { chains: false });
    expect(report.total).toBe(1);
    expect(await value('tally_reconcile_runs_total', { entity: 'resource' })).toBe(1);
    expect(await value('tally_reconcile_drift_found_total', { entity: 'resource' })).toBe(1);
    const r = await applyRepair([res], planRepair(report), { actor: 'ops', reason: 'test drift' });
    expect(r.repaired).toBe(1);
    expect(await value('tally_reconcile_drift_repaired_total', { entity: 'resource' })).toBe(1);
    const names = exporter.getFinishedSpans().map((s) => s.name);
    expect(names).toContain('tally.reconcile');
    expect(names).toContain('tally.reconcile.repair');
  });

  it('folds the router reasons into replica / waited / primary', () => {
    expect(
      routeDecisions({
        REPLICA: 3,
        TOKEN_SATISFIED: 2,
        TOKEN_WAITED: 4,
        TOKEN_TIMEOUT: 1,
        NO_REPLICAS: 5,
        WRITE: 9,
      }),
    ).toEqual({ replica: 5, waited: 4, primary: 6 });
  });
});

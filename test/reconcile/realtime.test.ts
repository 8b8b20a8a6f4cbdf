import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import type { Executor } from '../../src/db/types.js';
import { type FeedConsumer, openConsumer } from '../../src/feed/index.js';
import { every, type Finding, parseEvery, realtimeHandler, reconcile } from '../../src/reconcile/index.js';
import type { ReconcileReport } from '../../src/reconcile/types.js';
import { chainAsLegacy } from '../changes/legacy-log.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

describeEachDialect('reconcile in real time (a feed consumer) and offline (a schedule)', (fresh) => {
  let t: TestDatabase;
  let db: Executor;
  let resources: Entity;
  let consumer: FeedConsumer;
  const found: Finding[] = [];
  const drain = async () => {
    const handler = realtimeHandler([resources], (f) => {
      found.push(...f);
    });
    let n = 0;
    for (let got = -1; got !== 0; n += got) got = await consumer.once(handler);
    return n;
  };
  beforeAll(async () => {
    t = await fresh();
    db = t.db;
    const fx = await resourcesFixture(db, 0);
    resources = fx.resources;
    await resources.create({
      rows: Array.from({ length: 10 }, (_, i) => ({ id: i + 1, state: 'active' })),
      actor: 'seed',
    });
    consumer = await openConsumer(fx.tally, 'reconcile-realtime', { types: ['resource'] });
  });
  afterAll(() => t.close());

  it('checks each entry as it arrives: nothing to report for changes made through Tally', async () => {
    expect(await drain()).toBe(10);
    await resources.transition({ keys: [5, 6], to: 'frozen', actor: 'ops' });
    expect(await drain()).toBe(2);
    expect(found).toEqual([]);
  });

  it('reports an edited entry, a change around Tally after the entry, a missing entry and a deleted middle entry', async () => {
    await resources.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'ops' });
    await resources.transition({ keys: [4], to: 'frozen', actor: 'ops' });
    await resources.transition({ keys: [4], to: 'active', actor: 'ops' });
    // The entries as a Tally before migration 10 wrote them (hash-chained): an edit breaks the hash.
    // (A new entry's metadata edit is the sealed tree's to find, decision 0065.)
    await chainAsLegacy(db, 'tally', 'resource');
    await db.exec(`UPDATE tally.log SET reason = 'edited' WHERE entity_key = '1' AND version = 2`);
    await db.exec(`UPDATE resources SET owner = 'around' WHERE id = 2`);
    await db.exec(`UPDATE resources SET version = version + 1 WHERE id = 3`);
    await db.exec(`DELETE FROM tally.log WHERE entity_key = '4' AND version = 2`);
    expect(await drain()).toBe(4);
    expect(found.map((f) => `${f.key}:${f.kind}`).sort()).toEqual([
      '1:hash_mismatch',
      '2:row_changed_outside_log',
      '3:version_ahead_of_log',
      '4:version_gap',
    ]);
    expect(found.find((f) => f.key === '2')!.details).toMatchObject({ columns: ['owner'] });
  });

  it('runs offline checks on a schedule until stopped', async () => {
    expect(parseEvery('24h')).toBe(86_400_000);
    expect(() => parseEvery('soon')).toThrow(expect.objectContaining({ code: 'INVALID_RECONCILE_OPTIONS' }));
    const reports: ReconcileReport[] = [];
    let enough: () => void = () => {};
    const twice = new Promise<void>((done) => {
      enough = done;
    });
    const schedule = every(
      '20ms',
      () => reconcile([resources], { chains: false }),
      (r) => {
        reports.push(r);
        if (reports.length === 2) enough();
      },
    );
    await twice;
    await schedule.stop();
    const n = reports.length;
    expect(reports[0]!.counts).toMatchObject({ row_changed_outside_log: 1, version_ahead_of_log: 1 });
    await new Promise((r) => setTimeout(r, 60));
    expect(reports.length).toBe(n);
  });
});

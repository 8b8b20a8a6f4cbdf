import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import type { Executor } from '../../src/db/types.js';
import { openConsumer } from '../../src/feed/index.js';
import { applyRepair, formatPlan, planRepair, reconcile } from '../../src/reconcile/index.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture, type Tally } from '../support/resources.js';

const N = 1000;
const FROZEN = 500;

describeEachDialect('the seed bug replayed: a batch freeze that bypassed the log', (fresh) => {
  let t: TestDatabase;
  let db: Executor;
  let tally: Tally;
  let resources: Entity;
  const logRows = () => count(db, 'SELECT 1 FROM tally.log');
  beforeAll(async () => {
    t = await fresh();
    db = t.db;
    ({ tally, resources } = await resourcesFixture(db, 0));
    const rows = Array.from({ length: N }, (_, i) => ({ id: i + 1, state: 'active', owner: `o-${i + 1}` }));
    await resources.create({ rows, actor: 'seed' });
    // The field failure: a "batch freeze" that updated the state table directly and wrote no log rows.
    await db.exec(`UPDATE resources SET state = 'frozen' WHERE id <= ${FROZEN}`);
  });
  afterAll(() => t.close());

  it('names all 500, plans 500 repairs in a dry run that writes nothing', async () => {
    const report = await reconcile([resources]);
    expect(report.total).toBe(FROZEN);
    expect(report.counts).toEqual({ row_changed_outside_log: FROZEN });
    expect(report.findings.map((f) => Number(f.key)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: FROZEN }, (_, i) => i + 1),
    );
    expect(report.findings[0]!.details).toMatchObject({
      columns: ['state'],
      row: { state: 'frozen' },
      log: { state: 'active' },
    });

    const before = await logRows();
    const plan = planRepair(report);
    expect(plan.repairs).toHaveLength(FROZEN);
    expect(plan.manual).toEqual([]);
    expect(plan.repairs[0]).toMatchObject({ entity: 'resource', fromVersion: 1, toVersion: 2 });
    expect(formatPlan(plan)).toContain('plan: 500 repair entries, 0 findings left for a person');
    expect(await logRows()).toBe(before);
  });

  it('refuses bad input with typed errors and writes nothing', async () => {
    const plan = planRepair(await reconcile([resources], { chains: false }));
    const before = await logRows();
    await expect(applyRepair([resources], plan, { actor: '', reason: 'x' })).rejects.toMatchObject({
      code: 'MISSING_ACTOR',
    });
    await expect(applyRepair([resources], plan, { actor: 'ops:alice', reason: ' ' })).rejects.toMatchObject({
      code: 'MISSING_REASON',
    });
    await expect(applyRepair([resources], plan, { actor: 'ops:alice' } as never)).rejects.toMatchObject({
      code: 'MISSING_REASON',
    });
    const unknownEntity = { repairs: [{ ...plan.repairs[0]!, entity: 'ghost' }], manual: [] };
    await expect(applyRepair([resources], unknownEntity, { actor: 'a', reason: 'r' })).rejects.toMatchObject({
      code: 'UNKNOWN_ENTITY',
    });
    // A plan with one key that has no row fails as a whole, before the first chunk is written.
    const withMissing = { repairs: [...plan.repairs, { ...plan.repairs[0]!, key: '99999' }], manual: [] };
    await expect(
      applyRepair([resources], withMissing, { actor: 'a', reason: 'r', chunkSize: 10 }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const badKey = { repairs: [{ ...plan.repairs[0]!, key: 'not-a-number' }], manual: [] };
    await expect(applyRepair([resources], badKey, { actor: 'a', reason: 'r' })).rejects.toMatchObject({
      code: 'INVALID_KEY',
    });
    expect(await logRows()).toBe(before);
    expect(await count(db, `SELECT 1 FROM resources WHERE version = 1`)).toBe(N);
  });

  it('apply backfills them as chained repair entries; a second apply changes nothing', async () => {
    const plan = planRepair(await reconcile([resources]));
    const result = await applyRepair([resources], plan, {
      actor: 'ops:alice',
      reason: 'INC-7: batch freeze bypassed the log',
      chunkSize: 128,
    });
    expect(result).toMatchObject({ repaired: FROZEN, skipped: 0 });
    const [e] = await db.query<Record<string, unknown>>({
      text: `SELECT action, actor, reason, version::int AS version, before->>'state' AS b, after->>'state' AS a, changed
               FROM tally.log WHERE entity_key = '7' ORDER BY version DESC LIMIT 1`,
    });
    expect(e).toMatchObject({
      action: 'repair',
      actor: 'ops:alice',
      reason: 'INC-7: batch freeze bypassed the log',
      version: 2,
      b: 'active',
      a: 'frozen',
    });
    expect(e!.changed).toEqual(['state', 'version']);
    expect(await resources.verify(7)).toMatchObject({ ok: true, rowVersion: 2, lastVersion: 2 });

    const after = await reconcile([resources]);
    expect(after.ok).toBe(true);
    expect(planRepair(after).repairs).toEqual([]);
    const logged = await logRows();
    const again = await applyRepair([resources], plan, { actor: 'ops:alice', reason: 'again' });
    expect(again).toMatchObject({ repaired: 0, skipped: FROZEN });
    expect(await logRows()).toBe(logged);
    // The repaired rows keep working through Tally.
    await resources.transition({ keys: [1, 2], to: 'active', actor: 'ops:bob' });
    expect((await reconcile([resources])).ok).toBe(true);
    await resources.transition({ keys: [1, 2], to: 'frozen', actor: 'ops:bob' });
  });

  it('a log consumer then sees every freeze', async () => {
    const consumer = await openConsumer(tally, 'reconcile-mirror', { types: ['resource'], batchSize: 300 });
    const mirror = new Map<string, string>();
    let delivered = 0;
    for (;;) {
      const n = await consumer.once(async (batch) => {
        for (const e of batch.entries)
          if (e.source === 'log') mirror.set(e.entry.entity_key, String(e.entry.after?.state));
      });
      delivered += n;
      if (n === 0) break;
    }
    expect(delivered).toBe(N + FROZEN + 4);
    const frozen = [...mirror].filter(([, s]) => s === 'frozen').map(([k]) => Number(k));
    expect(frozen.sort((a, b) => a - b)).toEqual(Array.from({ length: FROZEN }, (_, i) => i + 1));
  });
});

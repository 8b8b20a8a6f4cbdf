import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import type { Executor } from '../../src/db/types.js';
import { applyRepair, planRepair, reconcile } from '../../src/reconcile/index.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

// jsonb renders a timestamptz in the writing session's TimeZone. A reconciler running in another TimeZone
// must compare the instants, or every row with a timestamptz column would look changed around Tally.
describeEachDialect('reconcile across session time zones', (fresh) => {
  let t: TestDatabase;
  let tokyo: pg.Pool | null = null;
  afterAll(async () => {
    await tokyo?.end();
    await t?.close();
  });

  it('a timestamptz written in UTC and read in Asia/Tokyo is not drift; a changed instant is', async () => {
    t = await fresh();
    await t.db.exec(`SET TimeZone = 'UTC';
      CREATE TABLE orders (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, due timestamptz)`);
    const writer = await createTally({ db: t.db });
    await writer.migrate();
    const orders = writer.entity('order', { table: 'orders', states: { open: ['done'], done: [] } });
    await orders.create({
      rows: [1, 2, 3].map((id) => ({ id, state: 'open', due: `2026-12-0${id}T10:00:00.123456Z` })),
      actor: 'seed',
    });

    let db: Executor = t.db;
    if (t.dialect === 'pglite') await t.db.exec(`SET TimeZone = 'Asia/Tokyo'`);
    else {
      tokyo = new pg.Pool({ connectionString: t.url!, max: 2, options: '-c TimeZone=Asia/Tokyo' });
      db = postgres(tokyo);
    }
    const [tz] = await db.query<{ tz: string }>({ text: "SELECT current_setting('TimeZone') AS tz" });
    expect(tz!.tz).toBe('Asia/Tokyo');
    const reader = await createTally({ db });
    const same = reader.entity('order', { table: 'orders', states: { open: ['done'], done: [] } });
    expect((await reconcile([same])).findings).toEqual([]);

    await db.exec(`UPDATE orders SET due = due + interval '1 microsecond' WHERE id = 2`);
    const report = await reconcile([same]);
    expect(report.findings.map((f) => `${f.key}:${f.kind}`)).toEqual(['2:row_changed_outside_log']);
    expect(report.findings[0]!.details).toMatchObject({ columns: ['due'] });
    const result = await applyRepair([same], planRepair(report), { actor: 'ops', reason: 'tz test' });
    expect(result.repaired).toBe(1);
    expect((await reconcile([same])).ok).toBe(true);
  });
});

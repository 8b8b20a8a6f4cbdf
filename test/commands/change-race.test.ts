import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { count, recording } from '../support/resources.js';
import { until } from '../support/until.js';
import { debitFixture } from './support/debit.js';

// Real PostgreSQL: another transaction changes the row between the one statement's snapshot and its
// UPDATE (PGlite has one connection, so this cannot happen there).
describe.skipIf(!postgresAvailable)('change command that loses a race for its row [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres();
  });
  afterAll(() => t.close());

  it('writes nothing in that statement and completes through the locked general path, chain intact', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(rec.db, 'race', [[1, 100]]);
    await fx.debit.submit({ key: 'warm', principal: 'u1', input: { account: 1, amount: 0 } });
    const holder = await t.pool!.connect();
    try {
      await holder.query('BEGIN');
      await fx.entity.update({ key: 1, set: { note: 'held' }, actor: 'ops', tx: holder });
      rec.statements.length = 0;
      const submitted = fx.debit.submit({ key: 'r1', principal: 'u1', input: { account: 1 } });
      await until(
        'the change statement to wait for the row lock',
        async () =>
          (await count(
            t.db,
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )) > 0,
      );
      await holder.query('COMMIT');
      const r = await submitted;
      expect(r).toMatchObject({ status: 'succeeded', replayed: false, attempts: 0, result: { version: 3 } });
      // The one statement found the row moved and wrote nothing; the general path recorded and ran it.
      expect(rec.statements.length).toBeGreaterThan(1);
    } finally {
      holder.release();
    }
    expect(await fx.points(1)).toBe(90);
    expect(await fx.debits()).toBe(1);
    expect(await fx.entity.verify(1)).toMatchObject({ ok: true, entries: 3 });
    const tl = (await fx.debit.timeline({ key: 'r1', principal: 'u1' }))!;
    expect(tl.events.map((e) => e.kind)).toEqual(['submitted', 'step_done', 'succeeded']);
    const h = await fx.entity.history(1);
    expect(h.map((e) => [e.version, e.action, e.changed])).toEqual([
      [1, 'create', ['id', 'note', 'points', 'state', 'version']],
      [2, 'update', ['note', 'version']],
      [3, 'debit', ['points', 'version']],
    ]);
  });
});

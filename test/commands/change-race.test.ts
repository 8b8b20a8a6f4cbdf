import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { count, recording } from '../support/resources.js';
import { until } from '../support/until.js';
import { debitFixture } from './support/debit.js';

// Real PostgreSQL: another transaction changes the row between the one statement's snapshot and its
// UPDATE (PGlite has one connection, so this cannot happen there).
describe.skipIf(!postgresAvailable)('change commands that lose a race for their row [postgres]', () => {
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
      await waitingForALock(t);
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

  it('in a shared statement only the item whose row moved falls back; the others commit there', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(
      rec.db,
      'brace',
      [1, 2, 3, 4].map((id): [number, number] => [id, 100]),
      {},
      {
        statements: 1,
      },
    );
    const holder = await t.pool!.connect();
    try {
      await holder.query('BEGIN');
      await fx.entity.update({ key: 2, set: { note: 'held' }, actor: 'ops', tx: holder });
      rec.statements.length = 0;
      // One statement at a time: account 4 alone, then 1, 2 and 3 together (it waits for row 2).
      const submitted = Promise.all(
        [4, 1, 2, 3].map((account) =>
          fx.debit.submit({ key: `b${account}`, principal: 'u1', input: { account } }),
        ),
      );
      await waitingForALock(t);
      await holder.query('COMMIT');
      const results = await submitted;
      for (const r of results) expect(r).toMatchObject({ status: 'succeeded', replayed: false });
      const shared = rec.statements.filter((s) => s.startsWith('WITH req AS'));
      expect(shared).toHaveLength(2);
      expect(rec.statements.length).toBeGreaterThan(2); // row 2's command went the general path
    } finally {
      holder.release();
    }
    for (const id of [1, 2, 3, 4]) {
      expect(await fx.points(id)).toBe(90);
      expect(await fx.entity.verify(id)).toMatchObject({ ok: true });
    }
    expect(await fx.debits()).toBe(4);
    expect((await fx.entity.history(2)).map((e) => e.action)).toEqual(['create', 'update', 'debit']);
  });

  it('two processes submitting the same keys at once: one effect per key, both told the same outcome', async () => {
    const fx = await debitFixture(
      t.db,
      'twin',
      [1, 2, 3, 4, 5, 6, 7, 8].map((id): [number, number] => [id, 100]),
    );
    // A second Tally on a pool of its own, declaring the same command: another process, as far as the
    // database can tell.
    const pool = new pg.Pool({ connectionString: t.url!, max: 4 });
    pool.on('error', () => {});
    try {
      const other = await createTally({ db: postgres(pool) });
      const entity = other.entity(fx.table, { table: fx.table, states: { open: ['closed'], closed: [] } });
      const twin = other.command<{ account: number; amount?: number }>('debit_twin', {
        fingerprint: (i) => ({ account: i.account, amount: i.amount ?? 10 }),
        change: {
          entity,
          key: (i) => i.account,
          add: { points: (i) => -(i.amount ?? 10) },
          guard: { points: { gte: (i) => i.amount ?? 10 } },
          action: 'debit',
          reason: 'insufficient_points',
        },
      });
      // Rounds 0-2 debit (the row lock orders the two statements: the later one finds its row moved);
      // round 3 debits 0 (no row changes, so the two meet at the command's unique key instead).
      for (let round = 0; round < 4; round++) {
        const amount = round === 3 ? 0 : 10;
        const keys = [1, 2, 3, 4, 5, 6, 7, 8].map((account) => ({ key: `t${round}-${account}`, account }));
        const input = (account: number) => ({ account, amount });
        const [a, b] = await Promise.all([
          Promise.all(
            keys.map(({ key, account }) => fx.debit.submit({ key, principal: 'u1', input: input(account) })),
          ),
          Promise.all(
            keys.map(({ key, account }) => twin.submit({ key, principal: 'u1', input: input(account) })),
          ),
        ]);
        for (const [i, x] of a.entries()) {
          const y = b[i]!;
          expect(x.status).toBe('succeeded');
          expect(y.id).toBe(x.id);
          expect(y.result).toEqual(x.result);
          expect([x.replayed, y.replayed].filter((r) => !r)).toHaveLength(1);
        }
      }
    } finally {
      await pool.end();
    }
    for (let id = 1; id <= 8; id++) {
      expect(await fx.points(id)).toBe(70);
      expect(await fx.entity.verify(id)).toMatchObject({ ok: true, entries: 4 });
    }
    expect(await fx.debits()).toBe(24);
    expect(await fx.commands()).toBe(32);
    expect(await fx.events()).toBe(96);
  });
  it('debits and credits of the same rows from shared statements never deadlock (rows locked in one order)', async () => {
    const rows = 6;
    const fx = await debitFixture(
      t.db,
      'dl',
      Array.from({ length: rows }, (_, i): [number, number] => [i + 1, 1_000_000]),
    );
    // Its own pool, so its backends' statistics (deadlocks among them) are flushed when they exit.
    const pool = new pg.Pool({ connectionString: t.url!, max: 10, application_name: 'tally-deadlock-test' });
    pool.on('error', () => {});
    const deadlocks = async () => {
      const [r] = await t.db.query<{ n: string }>({
        text: `SELECT pg_stat_clear_snapshot(), deadlocks::text AS n FROM pg_stat_database WHERE datname = current_database()`,
      });
      return Number(r!.n);
    };
    const before = await deadlocks();
    const tally = await createTally({ db: postgres(pool) });
    const entity = tally.entity(fx.table, { table: fx.table, states: { open: ['closed'], closed: [] } });
    const by = (name: string, amount: number) =>
      tally.command<{ account: number }>(name, {
        fingerprint: (i) => i,
        change: { entity, key: (i) => i.account, add: { points: amount }, action: name },
      });
    const debit = by('dl_debit', -1);
    const credit = by('dl_credit', 3);
    let debits = 0;
    let credits = 0;
    const perRow = new Map<number, number>();
    try {
      // 16 clients; half debit, half credit; each walks the rows in its own order.
      await Promise.all(
        Array.from({ length: 16 }, async (_, c) => {
          for (let j = 0; j < 40; j++) {
            const account = ((c * 5 + j * (c % 2 ? 1 : 5)) % rows) + 1;
            const isCredit = c % 4 >= 2;
            const r = await (isCredit ? credit : debit).submit({
              key: `c${c}-${j}`,
              principal: 'u1',
              input: { account },
            });
            expect(r).toMatchObject({ status: 'succeeded', replayed: false });
            perRow.set(account, (perRow.get(account) ?? 0) + (isCredit ? 3 : -1));
            if (isCredit) credits++;
            else debits++;
          }
        }),
      );
    } finally {
      await pool.end();
    }
    await until(
      'the test pool to disconnect',
      async () =>
        (await count(
          t.db,
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'tally-deadlock-test'`,
        )) === 0,
    );
    expect(await deadlocks()).toBe(before);
    expect(debits + credits).toBe(640);
    for (let id = 1; id <= rows; id++) {
      expect(await fx.points(id)).toBe(1_000_000 + (perRow.get(id) ?? 0));
      expect(await fx.entity.verify(id)).toMatchObject({ ok: true });
    }
  });
});

/** Until a statement of this test's database waits for a row lock (the held transaction's). */
async function waitingForALock(t: TestDatabase): Promise<void> {
  await until(
    'a statement to wait for the held row lock',
    async () =>
      (await count(
        t.db,
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )) > 0,
  );
}

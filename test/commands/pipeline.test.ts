import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import type { Executor } from '../../src/db/types.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { redeemFixture } from './support/redeem.js';

// A pool in pg's pipeline mode: BEGIN goes out with the transaction's first statement instead of
// waiting for its own answer (src/db/postgres). Everything a command does must behave the same.
describe.skipIf(!postgresAvailable)('commands on a pipelined pg pool [postgres]', () => {
  let t: TestDatabase;
  let pool: pg.Pool;
  let db: Executor;
  beforeAll(async () => {
    t = await freshPostgres(2);
    pool = new pg.Pool({ connectionString: t.url!, max: 4, pipeline: true } as pg.PoolConfig);
    pool.on('error', () => {});
    db = postgres(pool);
  });
  afterAll(async () => {
    await pool.end();
    await t.close();
  });

  it('uses pipeline mode (the pool hands it to its clients)', async () => {
    const c = await pool.connect();
    try {
      expect((c as unknown as { pipeline: boolean }).pipeline).toBe(true);
    } finally {
      c.release();
    }
  });

  it('a statement of the transaction runs inside it, and a rollback undoes it', async () => {
    await db.exec('CREATE TABLE pl_t (id int PRIMARY KEY)');
    await db.transaction(async (tx) => {
      await tx.query({ text: 'INSERT INTO pl_t VALUES (1)' });
    });
    // The crashing transaction's first statement is its INSERT: had BEGIN not covered it, it would
    // have committed on its own and survived the rollback.
    await expect(
      db.transaction(async (tx) => {
        await tx.query({ text: 'INSERT INTO pl_t VALUES (2)' });
        throw new Error('step crashed');
      }),
    ).rejects.toThrow('step crashed');
    await expect(db.transaction(() => Promise.reject(new Error('before any statement')))).rejects.toThrow(
      'before any statement',
    );
    const rows = await db.query<{ id: number }>({ text: 'SELECT id FROM pl_t ORDER BY id' });
    expect(rows.map((r) => r.id)).toEqual([1]);
    const iso = await db.transaction(
      async (tx) =>
        (await tx.query<{ l: string }>({ text: `SELECT current_setting('transaction_isolation') AS l` }))[0],
      { isolation: 'serializable' },
    );
    expect(iso!.l).toBe('serializable');
  });

  it('submit, replay, a definite failure with compensation and the invariants hold', async () => {
    const fx = await redeemFixture(t.db, 'pl_redeem', { pool: db });
    const ok = await fx.redeem.submit({
      key: 'k1',
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(ok.status).toBe('succeeded');
    const again = await fx.redeem.submit({
      key: 'k1',
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(again).toMatchObject({ status: 'succeeded', replayed: true });
    fx.prizes.stock = 0; // C refuses: a definite failure after the deduction is compensated once
    const refused = await fx.redeem.submit({
      key: 'k2',
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(refused).toMatchObject({ status: 'failed', error: { compensated: true } });
    fx.fx.risk = 'deny';
    const denied = await fx.redeem.submit({
      key: 'k3',
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(denied).toMatchObject({ status: 'failed', error: { reason: 'risk_denied' } });
    expect(await fx.points('u1')).toBe(90);
    await fx.checkInvariants();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

// Decision 0125: the PostgreSQL adapter sends BEGIN with a transaction's first statement, and its last
// statement with the COMMIT, each pair in one round trip. These are the ways that can go wrong: a failed
// statement must commit nothing and leave the pooled connection (and its prepared statements) usable.
describe.skipIf(!postgresAvailable)('BEGIN and COMMIT in the round trip of a statement [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(1); // one connection: every case reuses the one the case before left behind
    await t.db.exec('CREATE TABLE p (id int PRIMARY KEY, note text)');
  });
  afterAll(() => t.close());

  const count = async () =>
    Number((await t.db.query<{ n: string }>({ text: 'SELECT count(*) AS n FROM p' }))[0]!.n);

  it('the opening statement runs inside the transaction and its rows come back before the callback', async () => {
    let opened: unknown[] | null = null;
    await expect(
      t.db.transaction(
        async (tx) => {
          expect(opened).toEqual([{ id: 1 }]);
          await tx.query({ text: `UPDATE p SET note = 'x' WHERE id = 1` });
          throw new Error('roll back');
        },
        {
          opening: { text: 'INSERT INTO p (id) VALUES ($1) RETURNING id', values: [1], name: 'p_open' },
          opened: (rows) => {
            opened = rows;
          },
        },
      ),
    ).rejects.toThrow('roll back');
    expect(await count()).toBe(0); // the opening's insert rolled back with the rest
  });

  it('a last statement that fails commits nothing; one that succeeds commits everything', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query({ text: 'INSERT INTO p (id) VALUES (2)' });
        await tx.commitWith!({ text: 'INSERT INTO p (id) VALUES ($1)', values: [2] }); // duplicate key
      }),
    ).rejects.toMatchObject({ code: 'DB_ERROR' });
    expect(await count()).toBe(0);
    const rows = await t.db.transaction(async (tx) => {
      await tx.query({ text: 'INSERT INTO p (id) VALUES (3)' });
      const r = await tx.commitWith!<{ id: number }>({ text: 'INSERT INTO p (id) VALUES (4) RETURNING id' });
      // Committed: the transaction takes no further statement.
      expect(() => tx.query({ text: 'SELECT 1' })).toThrow(/committed/);
      return r;
    });
    expect(rows).toEqual([{ id: 4 }]);
    expect(await count()).toBe(2);
  });

  it('a prepared opening statement whose Parse failed is parsed again on its next use', async () => {
    const opening = { text: 'INSERT INTO q (id) VALUES ($1) RETURNING id', values: [1], name: 'q_open' };
    await expect(t.db.transaction(async () => {}, { opening })).rejects.toMatchObject({ code: 'DB_ERROR' });
    await t.db.exec('CREATE TABLE q (id int PRIMARY KEY)');
    let opened: unknown[] | null = null;
    await t.db.transaction(async () => {}, {
      opening,
      opened: (rows) => {
        opened = rows;
      },
    });
    // Without dropping the name node-pg noted as prepared, this use would skip the Parse and fail.
    expect(opened).toEqual([{ id: 1 }]);
  });
});

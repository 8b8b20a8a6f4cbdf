import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

describe.skipIf(!postgresAvailable)('single-key changes are prepared statements [postgres]', () => {
  let t: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    t = await freshPostgres(2);
    pool = new pg.Pool({ connectionString: t.url!, max: 1 }); // one connection: its prepared statements are visible
    // Every query call on a pooled client is one round trip (pg writes its messages and waits for the answer).
    pool.on('connect', (client) => {
      const inner = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const a = args[0] as string | { text?: string };
        sent.push(typeof a === 'string' ? a : (a?.text ?? ''));
        return inner(...args);
      };
    });
  });
  const sent: string[] = [];
  afterAll(async () => {
    await pool.end();
    await t.close();
  });

  it('one key prepares its one statement once per connection; a batch prepares nothing', async () => {
    await t.db.exec(`CREATE TABLE prep (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO prep SELECT g, 'active', 0 FROM generate_series(1, 50) g;`);
    const tally = await createTally({ db: postgres(pool) });
    await tally.migrate();
    const e = tally.entity('prep', { table: 'prep', states: RESOURCE_STATES });
    const named = async () =>
      Number(
        (
          await pool.query(
            `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'tally\\_%'`,
          )
        ).rows[0].n,
      );
    await e.transition({ key: 1, to: 'frozen', actor: 'a' });
    expect(await named()).toBe(1); // one autocommit statement (decision 0066)
    await e.transition({ key: 2, to: 'frozen', actor: 'a' });
    await e.transition({ key: 2, to: 'active', actor: 'a' });
    expect(await named()).toBe(1); // states and keys are parameters: every single-key transition reuses it
    await e.transition({ keys: [3, 4, 5], to: 'frozen', actor: 'a' });
    expect(await named()).toBe(1);
    expect((await e.history(2)).map((l) => l.after?.state)).toEqual(['frozen', 'active']);
    expect((await e.verify(2)).ok).toBe(true);
  });

  it('one key is one round trip: one autocommit statement (decision 0066)', async () => {
    await t.db.exec(`CREATE TABLE trip (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO trip SELECT g, 'active', 0 FROM generate_series(1, 10) g;`);
    const tally = await createTally({ db: postgres(pool) });
    const e = tally.entity('trip', { table: 'trip', states: RESOURCE_STATES });
    await e.transition({ key: 1, to: 'frozen', actor: 'a' }); // learns the table's shape
    sent.length = 0;
    for (const key of [2, 3, 4]) await e.transition({ key, to: 'frozen', actor: 'a' });
    expect(sent).toHaveLength(3);
    expect(sent.every((s) => s.trimStart().startsWith('WITH upd AS'))).toBe(true);
    sent.length = 0;
    await expect(e.transition({ key: 99, to: 'frozen', actor: 'a' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(sent).toHaveLength(1); // a rejection wrote nothing: nothing to roll back
  });

  it('a row that moves while the statement waits for it is answered from the locks, not the snapshot', async () => {
    await t.db.exec(`CREATE TABLE moved (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO moved VALUES (1, 'active', 0);`);
    const tally = await createTally({ db: postgres(pool) });
    const e = tally.entity('moved', { table: 'moved', states: RESOURCE_STATES });
    const otherPool = new pg.Pool({ connectionString: t.url!, max: 1 });
    const other = await otherPool.connect();
    try {
      await other.query('BEGIN');
      await e.transition({ key: 1, to: 'frozen', actor: 'other', tx: other }); // holds row 1
      const mine = e.transition({ key: 1, to: 'frozen', actor: 'me' }); // waits for row 1
      const waits = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      for (let i = 0; i < 200; i++) {
        if ((await t.db.query<{ n: number }>({ text: waits }))[0]!.n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await other.query('COMMIT');
      // Its snapshot saw 'active'; the row it got is 'frozen': already there, not an illegal transition.
      expect(await mine).toMatchObject({ changed: [], unchanged: [1] });
    } finally {
      other.release();
      await otherPool.end();
    }
    expect((await e.history(1)).map((l) => l.actor)).toEqual(['other']);
    expect((await e.verify(1)).ok).toBe(true);
  });
});

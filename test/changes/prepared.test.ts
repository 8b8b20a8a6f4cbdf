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
  });
  afterAll(async () => {
    await pool.end();
    await t.close();
  });

  it('one key prepares its two statements once per connection; a batch prepares nothing', async () => {
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
    expect(await named()).toBe(2);
    await e.transition({ key: 2, to: 'frozen', actor: 'a' });
    await e.transition({ key: 2, to: 'active', actor: 'a' });
    expect(await named()).toBe(2); // states and keys are parameters: every single-key transition reuses them
    await e.transition({ keys: [3, 4, 5], to: 'frozen', actor: 'a' });
    expect(await named()).toBe(2);
    expect((await e.history(2)).map((l) => l.after?.state)).toEqual(['frozen', 'active']);
    expect((await e.verify(2)).ok).toBe(true);
  });
});

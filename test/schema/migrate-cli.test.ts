import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { migrateCommand } from '../../src/cli/migrate.js';
import { migrate } from '../../src/schema/migrate.js';
import { migrations } from '../../src/schema/migrations.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

// `tally migrate` behind a long transaction (decision 0067): the DDL step gives up its place in the lock
// queue after lock_timeout, says so on stderr, and succeeds once the transaction has ended.
describe.skipIf(!postgresAvailable)('tally migrate behind a long transaction [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(4);
    await migrate(t.db, 'tally', '"tally"', { migrations: migrations.filter((m) => m.version <= 9) });
  });
  afterAll(() => t?.close());

  it('retries the lock, prints each retry, then applies the rest', async () => {
    const holder = new pg.Client({ connectionString: t.url! });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM tally.log'); // ACCESS SHARE on the log until COMMIT
    const released = new Promise<void>((resolve) =>
      setTimeout(() => void holder.query('COMMIT').then(() => holder.end().then(resolve)), 1500),
    );
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s), env: {}, cwd: process.cwd() };
    const code = await migrateCommand(['--database-url', t.url!], io);
    await released;
    expect(code).toBe(0);
    expect(err.length).toBeGreaterThan(0);
    expect(err[0]).toMatch(/^migration 10 step 1: lock not granted within 500 ms .*; try 2 in 200 ms$/);
    expect(out.join('\n')).toMatch(/version 9 → \d+ \(applied 10, 11/);
  }, 20_000);
});

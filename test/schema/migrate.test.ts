import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import { OUTSIDE_TRANSACTION } from '../../src/schema/migrate.js';
import { LATEST_VERSION, migrations } from '../../src/schema/migrations.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

describeEachDialect('migrations', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('applies each migration once, records its version, and a second run is a no-op', async () => {
    const tally = await createTally({ db: t.db });
    await expect(tally.assertMigrated()).rejects.toMatchObject({ code: 'SCHEMA_NOT_MIGRATED' });
    expect(await tally.migrate()).toEqual({
      from: 0,
      to: LATEST_VERSION,
      applied: migrations.map((m) => m.version),
    });
    expect(await tally.migrate()).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION, applied: [] });
    await tally.assertMigrated();
    expect(await count(t.db, 'SELECT 1 FROM tally.migrations')).toBe(migrations.length);
  });

  it('processes that start together apply every migration exactly once', async () => {
    const runs = t.url
      ? Array.from({ length: 6 }, async () => {
          const pool = new pg.Pool({ connectionString: t.url!, max: 2 });
          try {
            return await (await createTally({ db: postgres(pool), schema: 'together' })).migrate();
          } finally {
            await pool.end();
          }
        })
      : Array.from({ length: 6 }, async () =>
          (await createTally({ db: t.db, schema: 'together' })).migrate(),
        );
    const results = await Promise.all(runs);
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(migrations.map((m) => m.version));
    expect(await count(t.db, 'SELECT 1 FROM together.migrations')).toBe(migrations.length);
  });

  it('a schema of its own, and a database newer than this Tally is refused', async () => {
    const tally = await createTally({ db: t.db, schema: 'audit_x' });
    await tally.migrate();
    expect(
      await count(t.db, `SELECT 1 FROM pg_tables WHERE schemaname = 'audit_x' AND tablename = 'log'`),
    ).toBe(1);
    // Migration 9: the sealer's tables (decision 0060).
    expect(
      await count(
        t.db,
        `SELECT 1 FROM pg_tables WHERE schemaname = 'audit_x'
           AND tablename IN ('seal_leaves', 'seal_state', 'checkpoints')`,
      ),
    ).toBe(3);
    await t.db.exec(
      `INSERT INTO audit_x.migrations (version, name) VALUES (${LATEST_VERSION + 1}, 'from the future')`,
    );
    await expect(tally.migrate()).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
  });

  it('the printed script builds the same tables on an empty database', async () => {
    const tally = await createTally({ db: t.db, schema: 'printed' });
    // As psql -f runs it: each statement marked as outside a transaction on its own (a CONCURRENTLY
    // build refuses to run in a multi-statement string), the rest in between as they come.
    const script = tally.migrationSql();
    expect(script).toContain(
      `${OUTSIDE_TRANSACTION}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS commands_finished`,
    );
    for (const [i, part] of script.split(`${OUTSIDE_TRANSACTION}\n`).entries()) {
      const cut = i === 0 ? 0 : part.indexOf(';\n') + 2;
      if (cut > 0) await t.db.exec(part.slice(0, cut));
      await t.db.exec(part.slice(cut));
    }
    expect(await count(t.db, `SELECT 1 FROM printed.migrations`)).toBe(migrations.length);
    expect(await tally.migrate()).toMatchObject({ applied: [] });
    await tally.assertMigrated();
  });
});

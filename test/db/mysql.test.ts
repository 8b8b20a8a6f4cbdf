import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlStateOf } from '../../src/db/errors.js';
import { joinMysql, type MysqlExecutor, mysql, serverFromVersion } from '../../src/db/mysql/index.js';
import { LATEST_VERSION } from '../../src/schema/migrations.js';
import { mysqlMigrations } from '../../src/schema/mysql-migrations.js';
import { createTally } from '../../src/tally.js';
import { freshMariadb, mariadbAvailable, type TestDatabase } from '../support/databases.js';

describe.skipIf(!mariadbAvailable)('mysql executor and migrations [mariadb]', () => {
  let t: TestDatabase;
  let db: MysqlExecutor;
  let pool: Pool;
  beforeAll(async () => {
    t = await freshMariadb();
    db = t.db as MysqlExecutor;
    pool = t.mysqlPool!;
    await db.exec(`CREATE TABLE kv (k INT PRIMARY KEY, v VARCHAR(32) NOT NULL);
      INSERT INTO kv VALUES (1, 'a'), (2, 'b'), (3, 'c');`);
  });
  afterAll(() => t.close());

  it('reads the server once and answers its capability flags', async () => {
    const s = await db.server();
    expect(s.kind).toBe('mariadb');
    expect(s.returningOnInsert).toBe(true);
    expect(s.nativeJson).toBe(false);
    expect(serverFromVersion('8.0.39')).toMatchObject({
      kind: 'mysql',
      returningOnInsert: false,
      skipLocked: true,
    });
    expect(serverFromVersion('10.5.2-MariaDB').skipLocked).toBe(false);
  });

  it('expands array values into lists, and a write answers its header', async () => {
    const rows = await db.query<{ k: number }>({
      text: 'SELECT k FROM kv WHERE k IN (?) ORDER BY k',
      values: [[1, 3]],
    });
    expect(rows.map((r) => r.k)).toEqual([1, 3]);
    const [header] = await db.query<{ affectedRows: number }>({
      text: 'UPDATE kv SET v = ? WHERE k = 3',
      values: ['c'],
    });
    expect(header).toMatchObject({ affectedRows: 1 });
  });

  it('commits a transaction, and rolls it back when the callback throws (its error untouched)', async () => {
    await db.transaction(async (tx) => {
      await tx.query({ text: 'INSERT INTO kv VALUES (10, ?)', values: ['x'] });
    });
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.query({ text: 'INSERT INTO kv VALUES (11, ?)', values: ['y'] });
        throw boom;
      }),
    ).rejects.toBe(boom);
    const rows = await db.query<{ k: number }>({ text: 'SELECT k FROM kv WHERE k >= 10 ORDER BY k' });
    expect(rows.map((r) => r.k)).toEqual([10]);
  });

  it('runs the isolation asked for: REPEATABLE READ keeps its snapshot, READ COMMITTED sees a commit', async () => {
    const seen = async (isolation: 'repeatable read' | 'read committed') =>
      db.transaction(
        async (tx) => {
          const read = async () =>
            (await tx.query<{ v: string }>({ text: 'SELECT v FROM kv WHERE k = 2' }))[0]!.v;
          const first = await read();
          await pool.query('UPDATE kv SET v = ? WHERE k = 2', [`${first}!`]);
          return [first, await read()];
        },
        { isolation },
      );
    const [a, b] = await seen('repeatable read');
    expect(b).toBe(a);
    const [c, d] = await seen('read committed');
    expect(d).toBe(`${c}!`);
  });

  it('maps a duplicate key, a lock wait and a deadlock to the SQLSTATEs Tally decides on', async () => {
    const dup = await db.query({ text: 'INSERT INTO kv VALUES (1, ?)', values: ['dup'] }).catch((e) => e);
    expect(dup).toMatchObject({ code: 'DB_ERROR', details: { sqlState: '23505', mysqlErrno: 1062 } });
    // No values in messages (decision 0009): MySQL's text names the duplicate entry ('1'); Tally's does not.
    expect(dup.message).toContain("for key 'PRIMARY'");
    expect(dup.message).not.toContain("'1'");

    const a = await pool.getConnection();
    const b = await pool.getConnection();
    try {
      await b.query('SET SESSION innodb_lock_wait_timeout = 1');
      await a.beginTransaction();
      await b.beginTransaction();
      await a.query('SELECT * FROM kv WHERE k = 1 FOR UPDATE');
      const waited = await joinMysql(b)
        .query({ text: 'SELECT * FROM kv WHERE k = 1 FOR UPDATE' })
        .catch((e) => e);
      expect(sqlStateOf(waited)).toBe('55P03');
      await b.query('SELECT * FROM kv WHERE k = 2 FOR UPDATE');
      const second = joinMysql(a)
        .query({ text: 'SELECT * FROM kv WHERE k = 2 FOR UPDATE' })
        .catch((e) => e);
      await new Promise((r) => setTimeout(r, 100));
      const first = await joinMysql(b)
        .query({ text: 'SELECT * FROM kv WHERE k = 1 FOR UPDATE' })
        .catch((e) => e);
      const states = [sqlStateOf(first), sqlStateOf(await second)].filter(Boolean);
      expect(states).toEqual(['40P01']);
    } finally {
      await a.rollback().catch(() => {});
      await b.rollback().catch(() => {});
      a.release();
      b.release();
    }
  });

  it("joins the caller's own mysql2 transaction: its rollback takes Tally's statements with it", async () => {
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const tx = joinMysql(conn);
      expect(tx.inTransaction).toBe(true);
      await tx.query({ text: 'INSERT INTO kv VALUES (20, ?)', values: ['z'] });
      await conn.rollback();
    } finally {
      conn.release();
    }
    expect(await db.query({ text: 'SELECT 1 FROM kv WHERE k = 20' })).toEqual([]);
  });

  it('migrates under GET_LOCK: six processes starting together apply each migration exactly once', async () => {
    const runs = Array.from({ length: 6 }, async () => {
      const own = createPool({ uri: t.url!, connectionLimit: 2, timezone: 'Z' });
      try {
        return await (await createTally({ db: mysql(own), schema: 'together' })).migrate();
      } finally {
        await own.end();
      }
    });
    const results = await Promise.all(runs);
    const versions = mysqlMigrations.map((m) => m.version);
    expect(results.flatMap((r) => r.applied).sort((x, y) => x - y)).toEqual(versions);
    const tally = await createTally({ db, schema: 'together' });
    expect(await tally.migrate()).toEqual({ from: versions.length, to: versions.length, applied: [] });
    await tally.assertMigrated(); // against MySQL's own list, not PostgreSQL's
    await expect((await createTally({ db, schema: 'never' })).assertMigrated()).rejects.toMatchObject({
      code: 'SCHEMA_NOT_MIGRATED',
    });
    const [row] = await db.query<{ n: number }>({ text: 'SELECT count(*) AS n FROM together_migrations' });
    expect(Number(row!.n)).toBe(versions.length);
    const tables = await db.query<{ n: string }>({
      text: `SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
              AND TABLE_NAME LIKE 'together\\_%' ORDER BY 1`,
    });
    // Each migration adds its tables; later migrations (feed, evidence) add more.
    expect(tables.map((r) => r.n)).toEqual(
      expect.arrayContaining([
        'together_jobs',
        'together_job_items',
        'together_log',
        'together_migrations',
        'together_commands',
        'together_command_calls',
        'together_command_events',
        'together_command_alerts',
        'together_command_intake',
        'together_downstreams',
      ]),
    );
    expect(LATEST_VERSION).toBeGreaterThan(0);
  });

  it('refuses a database migrated by a newer Tally', async () => {
    const tally = await createTally({ db, schema: 'newer' });
    await tally.migrate();
    await db.query({ text: `INSERT INTO newer_migrations (version, name) VALUES (999, 'future')` });
    await expect(tally.migrate()).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
  });
});

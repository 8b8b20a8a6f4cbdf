import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { compareTables, formatCompareReport } from '../../src/reconcile/xdb/index.js';
import type { CompareOptions, CompareProgress } from '../../src/reconcile/xdb/types.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

const COLUMNS = ['name', 'amount', 'qty', 'at', 'flag', 'score', 'note'];
const TABLE = `(id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12, 2), qty integer, at timestamptz,
                 flag boolean, score double precision, note text)`;
const ROWS = (from: number, to: number) => `SELECT g, 'name-' || g, g * 1.25, g % 100,
    timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0, g / 7.0,
    CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || (g % 11) END FROM generate_series(${from}, ${to}) g`;

async function expectCode(p: Promise<unknown>, code: string, message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTallyError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

describe.skipIf(!postgresAvailable)('cross-database compare [postgres, two databases]', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  beforeAll(async () => {
    [a, b] = await Promise.all([freshPostgres(4), freshPostgres(4)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  const opts = (table: string, extra: Partial<CompareOptions> = {}): CompareOptions => ({
    left: { db: a.db, table },
    right: { db: b.db, table },
    key: 'id',
    columns: COLUMNS,
    ...extra,
  });

  it('1,000,000 rows with 1,000 planted differences: all 1,000 found, none extra', async () => {
    await Promise.all(
      [a, b].map((t) =>
        t.db.exec(`CREATE TABLE big ${TABLE}; INSERT INTO big ${ROWS(1, 1_000_000)}; ANALYZE big;`),
      ),
    );
    // 400 changed (one column each, of every kind, NULLs both ways), 300 only on the right, 300 only on the left.
    const changed = Array.from({ length: 400 }, (_, i) => 1 + i * 2477);
    const onlyRight = Array.from({ length: 300 }, (_, i) => 1234 + i * 3301);
    const onlyLeft = Array.from({ length: 300 }, (_, i) => 777 + i * 3299);
    const sets = [
      `name = name || '!'`,
      `amount = amount + 0.01`,
      `qty = NULL`,
      `at = at + interval '1 microsecond'`,
      `flag = NOT flag`,
      `score = score + 1e-9`,
      `note = CASE WHEN note IS NULL THEN '' ELSE NULL END`,
      `name = 'swap'`,
    ];
    for (const [i, set] of sets.entries()) {
      const ids = changed.filter((_, j) => j % sets.length === i);
      await b.db.query({ text: `UPDATE big SET ${set} WHERE id = ANY($1::bigint[])`, values: [ids] });
    }
    await a.db.query({ text: 'DELETE FROM big WHERE id = ANY($1::bigint[])', values: [onlyRight] });
    await b.db.query({ text: 'DELETE FROM big WHERE id = ANY($1::bigint[])', values: [onlyLeft] });
    expect(new Set([...changed, ...onlyLeft, ...onlyRight]).size).toBe(1000);

    const phases: CompareProgress[] = [];
    const r = await compareTables(opts('big', { onProgress: (p) => phases.push(p) }));
    const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y).map(String);
    expect(r.missingLeft).toEqual(sorted(onlyRight));
    expect(r.missingRight).toEqual(sorted(onlyLeft));
    expect(r.changed.map((c) => c.key).sort((x, y) => Number(x) - Number(y))).toEqual(sorted(changed));
    for (const c of r.changed) expect(c.columns.length, `columns of ${c.key}`).toBe(1);
    expect(r.equal).toBe(false);
    expect(r.left.rows).toBe(1_000_000 - 300);
    expect(r.right.rows).toBe(1_000_000 - 300);
    // Differing chunks are bisected; only small ones' keys and hashes travel: under 1% of the rows.
    expect(r.stats.levels).toBeGreaterThanOrEqual(1);
    expect(r.stats.rowsFetched).toBeLessThan(20_000);
    expect(phases.map((p) => p.phase)).toContain('checksum');
    expect(phases.at(-1)!.phase).toBe('done');
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    console.log(formatCompareReport(r, 3));
  }, 120_000);

  it('empty tables are equal; one empty side reports every key missing', async () => {
    await Promise.all([a, b].map((t) => t.db.exec(`CREATE TABLE e1 ${TABLE}; CREATE TABLE e2 ${TABLE};`)));
    await b.db.exec(`INSERT INTO e2 ${ROWS(1, 50)}`);
    const empty = await compareTables(opts('e1'));
    expect(empty).toMatchObject({ equal: true, missingLeft: [], missingRight: [], changed: [] });
    expect(empty.left.rows).toBe(0);
    const one = await compareTables(opts('e2'));
    expect(one.missingLeft).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
    expect(one.missingRight).toEqual([]);
  });

  it('all rows different, found through several bisection levels', async () => {
    await a.db.exec(`CREATE TABLE alld ${TABLE}; INSERT INTO alld ${ROWS(1, 3000)};`);
    await b.db.exec(
      `CREATE TABLE alld ${TABLE}; INSERT INTO alld ${ROWS(1, 3000)}; UPDATE alld SET qty = qty + 1;`,
    );
    const r = await compareTables(opts('alld', { chunkRows: 3000, factor: 4, leafRows: 8 }));
    expect(r.changed).toHaveLength(3000);
    expect(r.changed.slice(0, 3)).toEqual([
      { key: '1', columns: ['qty'] },
      { key: '2', columns: ['qty'] },
      { key: '3', columns: ['qty'] },
    ]);
    expect(r.stats.levels).toBeGreaterThanOrEqual(4);
  });

  it('a chunk with several differences, bisected down to them (and values swapped between two rows)', async () => {
    await Promise.all(
      [a, b].map((t) => t.db.exec(`CREATE TABLE sev ${TABLE}; INSERT INTO sev ${ROWS(1, 20000)};`)),
    );
    await b.db.exec(`UPDATE sev SET name = 'x' WHERE id IN (5000, 5001, 5003);
      DELETE FROM sev WHERE id = 5002; INSERT INTO sev ${ROWS(20001, 20001)};
      UPDATE sev SET qty = CASE id WHEN 9000 THEN 1 ELSE 0 END WHERE id IN (9000, 9001);`);
    // qty of 9000 is 0 and of 9001 is 1 on the left: swapped on the right, same multiset in the chunk.
    const r = await compareTables(opts('sev', { chunkRows: 20000, factor: 2, leafRows: 4 }));
    expect(r.changed.map((c) => c.key)).toEqual(['5000', '5001', '5003', '9000', '9001']);
    expect(r.missingRight).toEqual(['5002']);
    expect(r.missingLeft).toEqual(['20001']);
    expect(r.stats.levels).toBeGreaterThan(5);
    expect(r.stats.rowsFetched).toBeLessThan(100);
  });

  it('text keys, different schemas and table names, NULL against empty string and against values', async () => {
    await a.db.exec(`CREATE TABLE users_a (login varchar(40) PRIMARY KEY, email text, score float8, seen timestamptz);
      INSERT INTO users_a SELECT 'user-' || g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'u' || g || '@x' END, g / 3.0,
             timestamptz '2026-05-01 12:00:00+00' + g * interval '1 minute' FROM generate_series(1, 5000) g;
      INSERT INTO users_a VALUES ('é-accent', 'a', 1, NULL), ('Zed', 'z', 2, NULL), ('zed', NULL, 3, NULL);`);
    await b.db.exec(`CREATE SCHEMA crm; CREATE TABLE crm.accounts (login text PRIMARY KEY, email text, score float8, seen timestamptz);
      INSERT INTO crm.accounts SELECT 'user-' || g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'u' || g || '@x' END, g / 3.0,
             timestamptz '2026-05-01 12:00:00+00' + g * interval '1 minute' FROM generate_series(1, 5000) g;
      INSERT INTO crm.accounts VALUES ('é-accent', 'a', 1, NULL), ('Zed', 'z', 2, NULL), ('zed', '', 3, NULL);
      UPDATE crm.accounts SET email = '' WHERE login = 'user-10';           -- NULL -> ''
      UPDATE crm.accounts SET email = NULL WHERE login = 'user-11';         -- value -> NULL
      UPDATE crm.accounts SET seen = NULL WHERE login = 'user-12';
      DELETE FROM crm.accounts WHERE login IN ('user-4000', 'Zed');
      INSERT INTO crm.accounts VALUES ('user-9999', NULL, 0, NULL), ('ü-new', 'x', 0, NULL);`);
    const r = await compareTables({
      left: { db: a.db, table: 'public.users_a' },
      right: { db: b.db, table: 'crm.accounts' },
      key: 'login',
      columns: ['email', 'score', 'seen'],
      chunkRows: 500,
      leafRows: 16,
    });
    expect(r.keyKind).toBe('text');
    expect(r.changed).toEqual([
      { key: 'user-10', columns: ['email'] },
      { key: 'user-11', columns: ['email'] },
      { key: 'user-12', columns: ['seen'] },
      { key: 'zed', columns: ['email'] },
    ]);
    expect(r.missingRight).toEqual(['Zed', 'user-4000']);
    expect(r.missingLeft).toEqual(['user-9999', 'ü-new']);
  });

  it('text keys under different collations on the two sides: chunks cut in byte order on both', async () => {
    // "en-x-icu" sorts a < B < b, "C" sorts B < a < b: bounds in either order would cut the sides differently.
    const words = `SELECT w || g FROM unnest(ARRAY['a', 'B', 'b', 'Z', 'é', 'E', '_', '1']) w, generate_series(1, 300) g`;
    await a.db.exec(
      `CREATE TABLE coll (k text COLLATE "en-x-icu" PRIMARY KEY, v int); INSERT INTO coll SELECT k, length(k) FROM (${words}) s(k);`,
    );
    await b.db.exec(`CREATE TABLE coll (k text COLLATE "C" PRIMARY KEY, v int); INSERT INTO coll SELECT k, length(k) FROM (${words}) s(k);
      UPDATE coll SET v = 0 WHERE k IN ('a7', 'B7', 'é250'); DELETE FROM coll WHERE k = 'Z3'; INSERT INTO coll VALUES ('b0', 1);`);
    const r = await compareTables({ ...opts('coll'), key: 'k', columns: ['v'], chunkRows: 100, leafRows: 8 });
    expect(r.changed.map((c) => c.key)).toEqual(['B7', 'a7', 'é250']);
    expect(r.missingRight).toEqual(['Z3']);
    expect(r.missingLeft).toEqual(['b0']);
    expect(r.left.rows).toBe(2400);
    // Hash partitions of the key (no index could serve COLLATE "C" ranges), bisected; with statistics too.
    expect(r.stats.levels).toBeGreaterThanOrEqual(1);
    await Promise.all([a, b].map((t) => t.db.exec('ANALYZE coll')));
    const analyzed = await compareTables({
      ...opts('coll'),
      key: 'k',
      columns: ['v'],
      chunkRows: 100,
      leafRows: 8,
    });
    expect(analyzed).toMatchObject({ changed: r.changed, missingLeft: ['b0'], missingRight: ['Z3'] });
    expect(analyzed.stats.chunks).toBe(16); // 2,400 rows / 100 per chunk, as a power of two
  });

  it('the same values hash alike whatever the sessions print: time zone, date style, float digits, int4 vs int8, enum OIDs', async () => {
    const [{ current_database: dbName }] = (await b.db.query({ text: 'SELECT current_database()' })) as [
      { current_database: string },
    ];
    await b.db.exec(`ALTER DATABASE ${dbName} SET TimeZone = 'Asia/Tokyo';
      ALTER DATABASE ${dbName} SET DateStyle = 'SQL, DMY'; ALTER DATABASE ${dbName} SET extra_float_digits = -3;`);
    await a.db.exec(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TABLE forms (id integer PRIMARY KEY, at timestamptz, d date, f float8, r real, n numeric, j json, tags text[], ats timestamptz[], m mood);
      INSERT INTO forms SELECT g, timestamptz '2026-01-01 00:00:00.123456+00' + g * interval '1 hour', date '2026-01-01' + g,
        g / 3.0, g / 7.0, g * 1.5, json_build_object('a', g), ARRAY['x', g::text],
        ARRAY[timestamptz '2026-02-03 04:05:06.5+00' + g * interval '1 day'], (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3] FROM generate_series(1, 200) g;`);
    await b.db.exec(`CREATE TYPE filler AS ENUM ('a'); CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TABLE forms (id bigint PRIMARY KEY, at timestamptz, d date, f float8, r real, n numeric, j json, tags text[], ats timestamptz[], m mood);
      INSERT INTO forms SELECT g, timestamptz '2026-01-01 00:00:00.123456+00' + g * interval '1 hour', date '2026-01-01' + g,
        g / 3.0, g / 7.0, g * 1.5, json_build_object('a', g), ARRAY['x', g::text],
        ARRAY[timestamptz '2026-02-03 04:05:06.5+00' + g * interval '1 day'], (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3] FROM generate_series(1, 200) g;`);
    // A fresh pool picks up the database's new settings.
    const other = await freshPostgresPool(b.url!);
    try {
      const cols = ['at', 'd', 'f', 'r', 'n', 'j', 'tags', 'ats', 'm'];
      const same = await compareTables({
        left: { db: a.db, table: 'forms' },
        right: { db: other, table: 'forms' },
        key: 'id',
        columns: cols,
      });
      expect(same.equal).toBe(true);
      await a.db.exec(
        `UPDATE forms SET f = f + 1e-12 WHERE id = 7; UPDATE forms SET tags = ARRAY['y'] WHERE id = 8;`,
      );
      const diff = await compareTables({
        left: { db: a.db, table: 'forms' },
        right: { db: other, table: 'forms' },
        key: 'id',
        columns: cols,
      });
      expect(diff.changed).toEqual([
        { key: '7', columns: ['f'] },
        { key: '8', columns: ['tags'] },
      ]);
    } finally {
      await b.db.exec(`ALTER DATABASE ${dbName} RESET ALL`);
    }
  });

  it('takes connection strings and names the tables as given', async () => {
    await Promise.all(
      [a, b].map((t) => t.db.exec(`CREATE TABLE url_t ${TABLE}; INSERT INTO url_t ${ROWS(1, 100)};`)),
    );
    const r = await compareTables({
      left: { db: a.url!, table: 'url_t' },
      right: { db: b.url!, table: 'public.url_t' },
      key: 'id',
      columns: ['name'],
    });
    expect(r).toMatchObject({
      equal: true,
      left: { table: 'url_t', rows: 100 },
      right: { table: 'public.url_t', rows: 100 },
    });
  });

  it('bad input: typed errors before anything runs', async () => {
    await a.db.exec(`CREATE TABLE nokey (id integer, v text); CREATE TABLE ukey (id uuid PRIMARY KEY, v text);
      CREATE TABLE tm (id integer PRIMARY KEY, v text); CREATE TABLE tk (id text PRIMARY KEY, v text);`);
    await b.db.exec(`CREATE TABLE nokey (id integer PRIMARY KEY, v text); CREATE TABLE ukey (id uuid PRIMARY KEY, v text);
      CREATE TABLE tm (id integer PRIMARY KEY, v integer); CREATE TABLE tk (id integer PRIMARY KEY, v text);`);
    const base = {
      left: { db: a.db, table: 'tm' },
      right: { db: b.db, table: 'tm' },
      key: 'id',
      columns: ['v'],
    };
    await expectCode(
      compareTables({ ...base, left: { db: a.db, table: 'tm; DROP TABLE tm' } }),
      'INVALID_IDENTIFIER',
    );
    await expectCode(compareTables({ ...base, key: 'id"--' }), 'INVALID_IDENTIFIER');
    await expectCode(compareTables({ ...base, columns: ['v', 'x y'] }), 'INVALID_IDENTIFIER');
    await expectCode(compareTables({ ...base, columns: ['id'] }), 'INVALID_COMPARE_OPTIONS', /key/);
    await expectCode(compareTables({ ...base, columns: ['v', 'v'] }), 'INVALID_COMPARE_OPTIONS', /twice/);
    await expectCode(compareTables({ ...base, chunkRows: 0 }), 'INVALID_COMPARE_OPTIONS', /chunkRows/);
    await expectCode(compareTables({ ...base, factor: 1 }), 'INVALID_COMPARE_OPTIONS', /factor/);
    await expectCode(
      compareTables({ ...base, left: { db: 'mysql://x', table: 'tm' } }),
      'INVALID_COMPARE_OPTIONS',
      /left.db/,
    );
    await expectCode(
      compareTables({ ...base, right: { db: b.db, table: 'missing' } }),
      'TABLE_NOT_FOUND',
      /right/,
    );
    await expectCode(compareTables({ ...base, columns: ['nope'] }), 'COLUMN_NOT_FOUND', /nope/);
    await expectCode(
      compareTables({ ...base, left: { db: a.db, table: 'nokey' }, right: { db: b.db, table: 'nokey' } }),
      'COMPARE_KEY_NOT_UNIQUE',
      /left/,
    );
    await expectCode(
      compareTables({ ...base, left: { db: a.db, table: 'ukey' }, right: { db: b.db, table: 'ukey' } }),
      'UNSUPPORTED_KEY_TYPE',
    );
    await expectCode(
      compareTables(base),
      'COMPARE_TYPE_MISMATCH',
      /column v is text on the left and integer/,
    );
    await expectCode(
      compareTables({ ...base, left: { db: a.db, table: 'tk' }, right: { db: b.db, table: 'tk' } }),
      'COMPARE_TYPE_MISMATCH',
      /key id/,
    );
    // One side unreachable: the error surfaces and the other side's transaction is not left open.
    await expectCode(
      compareTables({ ...base, right: { db: 'postgres://postgres@127.0.0.1:1/nowhere', table: 'tm' } }),
      'DB_ERROR',
    );
    const open = await a.db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    });
    expect(open[0]!.n).toBe(0);
    const loose = await compareTables({ ...base, allowTypeMismatch: true });
    expect(loose.equal).toBe(true);
  });
});

async function freshPostgresPool(url: string) {
  const { postgres } = await import('../../src/db/postgres/index.js');
  return postgres(url);
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/schema/migrate.js';
import { applySteps, withSession } from '../../src/schema/online.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

// What a schema is made of, with its name taken out: columns, indexes, constraints, table comments.
const CATALOG = `
  SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' '
         || coalesce(column_default, '') || ' #' || ordinal_position AS item
    FROM information_schema.columns WHERE table_schema = $1
  UNION ALL
  SELECT 'index ' || replace(indexdef, $1 || '.', '') || ' ' || coalesce(array_to_string(c.reloptions, ','), '')
    FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = $1::regnamespace
   WHERE i.schemaname = $1
  UNION ALL
  SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = $1::regnamespace
  UNION ALL
  SELECT 'comment ' || c.relname || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '')
    FROM pg_class c WHERE c.relnamespace = $1::regnamespace
  ORDER BY 1`;

// Decision 0067: an online plan is another way to reach the schema a migration's SQL builds, never a
// different schema; and the index step rebuilds what an interrupted concurrent build leaves.
describe.skipIf(!postgresAvailable)('online migration steps [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(4);
  });
  afterAll(() => t?.close());

  const catalog = async (schema: string) =>
    (await t.db.query<{ item: string }>({ text: CATALOG, values: [schema] })).map((r) =>
      r.item.replaceAll(`${schema}.`, 'S.').replaceAll(`"${schema}".`, 'S.'),
    );

  it('every migration applied online builds the same catalog as its SQL in one transaction', async () => {
    await migrate(t.db, 'plain', '"plain"', { online: false });
    await migrate(t.db, 'online', '"online"');
    const plain = await catalog('plain');
    expect(plain.length).toBeGreaterThan(100);
    expect(plain.some((i) => i.includes('log_entity_version') && i.includes('INCLUDE (hash)'))).toBe(true);
    expect(await catalog('online')).toEqual(plain);
  });

  it('an invalid index left by an interrupted build is dropped and built again', async () => {
    await t.db.exec(`CREATE SCHEMA st; CREATE TABLE st.t (a int); INSERT INTO st.t VALUES (1), (1), (2);
                     CREATE TABLE st.migrations (version int PRIMARY KEY, name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now());`);
    // A unique build over duplicates fails and leaves its index behind, invalid.
    await expect(t.db.exec('CREATE UNIQUE INDEX CONCURRENTLY t_a ON st.t (a)')).rejects.toThrow();
    const valid = async () =>
      (
        await t.db.query<{ v: boolean }>({
          text: `SELECT indisvalid AS v FROM pg_index WHERE indexrelid = 'st.t_a'::regclass`,
        })
      )[0]?.v;
    expect(await valid()).toBe(false);
    await t.db.exec('DELETE FROM st.t WHERE a = 1');
    await withSession(t.db, (session) =>
      applySteps(session, 'st', 'st', 1, 'unique a', [
        { kind: 'index', name: 't_a', on: 't (a)', unique: true },
      ]),
    );
    expect(await valid()).toBe(true);
    await expect(t.db.exec('INSERT INTO st.t VALUES (2)')).rejects.toThrow(); // the index is in force
  });

  it('batches run until one changes nothing; NOT VALID then VALIDATE; the version is recorded once', async () => {
    await t.db.exec(`CREATE TABLE st.b (id int PRIMARY KEY, x int);
                     INSERT INTO st.b SELECT g, NULL FROM generate_series(1, 2500) g;`);
    await withSession(t.db, (session) =>
      applySteps(session, 'st', 'st', 2, 'backfill x', [
        {
          kind: 'transaction',
          sql: (s) => `ALTER TABLE ${s}.b ADD CONSTRAINT b_x CHECK (x IS NOT NULL) NOT VALID`,
        },
        {
          kind: 'batches',
          sql: (
            s,
          ) => `WITH u AS (UPDATE ${s}.b SET x = id WHERE id IN (SELECT id FROM ${s}.b WHERE x IS NULL LIMIT 1000)
                     RETURNING 1) SELECT count(*)::int AS n FROM u`,
        },
        { kind: 'transaction', sql: (s) => `ALTER TABLE ${s}.b VALIDATE CONSTRAINT b_x` },
      ]),
    );
    const [r] = await t.db.query<{ n: number; valid: boolean; rec: number }>({
      text: `SELECT (SELECT count(*)::int FROM st.b WHERE x IS NULL) AS n,
                    (SELECT convalidated FROM pg_constraint WHERE conname = 'b_x') AS valid,
                    (SELECT count(*)::int FROM st.migrations WHERE version = 2) AS rec`,
    });
    expect(r).toEqual({ n: 0, valid: true, rec: 1 });
  });
});

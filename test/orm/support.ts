import { PGlite } from '@electric-sql/pglite';
import { expect } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { templateOptions } from '../../src/db/pglite/template.js';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import { createTally } from '../../src/tally.js';
import { freshMariadb, freshPostgres, mariadbAvailable, postgresAvailable } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

/**
 * The keys each case owns in the shared tables (one database per file and dialect): a case never reads
 * another's rows, so the cases of one file share one database and stay fast.
 */
export const KEYS = {
  commit: 1,
  rollback: 2,
  savepointUndone: 3,
  savepointKept: 4,
  failing: 6,
  keptBesideFailure: 7,
} as const;

/** Ids of `accounts` rows a trigger refuses to update: a Tally statement that fails inside the database. */
export const FAILING_ID = KEYS.failing;

/** A database for one ORM test file: Tally's own executor on it, and how the ORM reaches it. */
export interface OrmDatabase {
  readonly dialect: 'pglite' | 'postgres' | 'mariadb';
  /** Tally's executor (reads outside the ORM's transaction, setup). */
  readonly db: Executor;
  /** postgres, mariadb: the connection string of this file's own database. */
  readonly url: string | null;
  /** pglite: the embedded instance both Tally and the ORM use. */
  readonly embedded: PGlite | null;
  close(): Promise<void>;
}

export async function ormPostgres(): Promise<OrmDatabase> {
  const t = await freshPostgres(4);
  return { dialect: 'postgres', db: t.db, url: t.url, embedded: null, close: () => t.close() };
}

export async function ormPGlite(): Promise<OrmDatabase> {
  const embedded = await PGlite.create(templateOptions());
  return { dialect: 'pglite', db: pglite(embedded), url: null, embedded, close: () => embedded.close() };
}

/** MariaDB 10.11 here (MYSQL_URL may point at a MySQL 8.0): a database of its own, Tally's mysql executor. */
export async function ormMariadb(): Promise<OrmDatabase> {
  const t = await freshMariadb(4);
  return { dialect: 'mariadb', db: t.db, url: t.url, embedded: null, close: () => t.close() };
}

export const ormDialects = [
  { name: 'pglite' as const, available: true, open: ormPGlite },
  { name: 'postgres' as const, available: postgresAvailable, open: ormPostgres },
  { name: 'mariadb' as const, available: mariadbAvailable, open: ormMariadb },
];

/** The servers an ORM without a PGlite driver runs on (all but Drizzle). */
export const serverDialects = ormDialects.filter((d) => d.name !== 'pglite');

/** The statement's `n`th placeholder in the executor's dialect (`$n` on PostgreSQL, `?` on MySQL). */
const ph = (db: Executor, n: number) => (db.dialect === 'mysql' ? '?' : `$${n}`);

/** How many rows a query answers, on any dialect. */
export async function count(db: Executor, text: string, values: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: unknown }>({ text: `SELECT count(*) AS n FROM (${text}) q`, values });
  return Number(row!.n);
}

/** The user's two tables and the trigger that refuses FAILING_ID's updates, per dialect. */
async function createUserTables(db: Executor): Promise<void> {
  if (db.dialect !== 'mysql') {
    await db.exec(`
    CREATE TABLE accounts (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0);
    INSERT INTO accounts (id, state) SELECT g, 'active' FROM generate_series(1, 10) g;
    CREATE TABLE orders (id integer PRIMARY KEY, note text NOT NULL DEFAULT '');
    CREATE FUNCTION accounts_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.id = ${FAILING_ID} THEN RAISE EXCEPTION 'accounts ${FAILING_ID} is locked by policy'; END IF; RETURN NEW; END $$;
    CREATE TRIGGER accounts_refuse BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_refuse();`);
    return;
  }
  await db.exec(`
    CREATE TABLE accounts (id int PRIMARY KEY, state varchar(20) NOT NULL, version int NOT NULL DEFAULT 0);
    INSERT INTO accounts (id, state) VALUES ${Array.from({ length: 10 }, (_, i) => `(${i + 1}, 'active')`).join(', ')};
    CREATE TABLE orders (id int PRIMARY KEY, note varchar(100) NOT NULL DEFAULT '');`);
  // One statement with semicolons inside: query, not exec (which splits a script at them).
  await db.query({
    text: `CREATE TRIGGER accounts_refuse BEFORE UPDATE ON accounts FOR EACH ROW
           BEGIN IF NEW.id = ${FAILING_ID} THEN
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'accounts ${FAILING_ID} is locked by policy';
           END IF; END`,
  });
}

/**
 * Two user tables (`accounts`, under Tally; `orders`, the user's own), a migrated Tally and the entity.
 * `accounts` row FAILING_ID refuses every update (a trigger raises): a Tally statement failing inside the
 * caller's transaction.
 */
export async function ormFixture(db: Executor) {
  await createUserTables(db);
  const tally = await createTally({ db });
  await tally.migrate();
  const accounts = tally.entity('account', { table: 'accounts', states: RESOURCE_STATES });
  // Tally's log: the tally schema on PostgreSQL, tally_log in the connection's database on MySQL.
  const log = db.dialect === 'mysql' ? 'tally_log' : 'tally.log';

  /** Log rows of one key, read through `ex` (Tally's executor, or the ORM's transaction). */
  const logRows = (ex: Executor, key: number) =>
    count(ex, `SELECT 1 FROM ${log} WHERE entity_type = 'account' AND entity_key = ${ph(ex, 1)}`, [
      String(key),
    ]);

  /** What is committed for one key: the user's order, the account's state, its log rows. */
  async function committed(key: number) {
    return {
      order: await count(db, `SELECT 1 FROM orders WHERE id = ${ph(db, 1)}`, [key]),
      state: (
        await db.query<{ state: string }>({
          text: `SELECT state FROM accounts WHERE id = ${ph(db, 1)}`,
          values: [key],
        })
      )[0]?.state,
      log: await logRows(db, key),
    };
  }
  return { db, tally, accounts, committed, logRows };
}

export const ALL_THREE = { order: 1, state: 'frozen', log: 1 };
export const NONE = { order: 0, state: 'active', log: 0 };

/**
 * A Tally error raised by a statement that failed in the database (the trigger): DB_ERROR with the
 * trigger's SQLSTATE — P0001 (RAISE EXCEPTION) on PostgreSQL, 45000 (SIGNAL) on MySQL — and no values.
 */
export function expectDatabaseRefusal(err: unknown, db: Executor): void {
  expect(isTallyError(err, 'DB_ERROR'), String(err)).toBe(true);
  const details = (err as { details?: { sqlState?: string; mysqlErrno?: number } }).details;
  expect(details?.sqlState).toBe(db.dialect === 'mysql' ? '45000' : 'P0001');
  if (db.dialect === 'mysql') expect(details?.mysqlErrno).toBe(1644); // ER_SIGNAL_EXCEPTION
  expect(String((err as Error).message)).toMatch(/locked by policy/);
  expect(String((err as Error).message)).not.toMatch(/shop|frozen/); // the statement's values stay out
}

/**
 * The ORM's error for a statement sent into an aborted transaction (SQLSTATE 25P02), found through the
 * wrappers ORMs put around the driver's error (`cause`, `driverError`, Prisma's `meta`).
 */
export function expectAborted(err: unknown): void {
  const seen: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && typeof e === 'object' && e !== null; i++) {
    const x = e as { code?: unknown; message?: unknown; meta?: { code?: unknown; message?: unknown } };
    seen.push(String(x.code), String(x.message), String(x.meta?.code), String(x.meta?.message));
    e =
      (e as { cause?: unknown; driverError?: unknown }).cause ?? (e as { driverError?: unknown }).driverError;
  }
  expect(seen.join(' | ')).toMatch(/25P02|current transaction is aborted/);
}

/** The thrown value of a promise that must reject. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

/** How one ORM opens its transaction, nests a savepoint, writes the user's row and joins Tally to it. */
export interface OrmSession<Tx> {
  /** The ORM's managed transaction: commits when `fn` resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The ORM's nested transaction (a savepoint), as it documents it. */
  savepoint<T>(tx: Tx, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The user's own write, through the ORM's own API. */
  insertOrder(tx: Tx, id: number): Promise<void>;
  /** The adapter under test. */
  join(tx: Tx): Executor;
  close(): Promise<void>;
}

export type OrmFixture = Awaited<ReturnType<typeof ormFixture>>;

/**
 * The cases every ORM adapter must pass on every dialect it runs on (issue 14): commit together, roll
 * back together, a savepoint rolled back takes Tally's statements along, a Tally statement failing in the
 * database leaves the transaction as that database leaves it (aborted on PostgreSQL; open on MySQL, which
 * rolls back only the failing statement, with Tally's savepoint taking the change's earlier statements along), and the same failure inside a
 * savepoint leaves nothing of Tally's once the ORM rolls the savepoint back.
 */
export function ormCases<Tx>(
  get: () => { s: OrmSession<Tx>; f: OrmFixture },
  it: typeof import('vitest').it,
) {
  it('the user write, the state change and its log row commit together', async () => {
    const { s, f } = get();
    const k = KEYS.commit;
    const r = await s.transaction(async (tx) => {
      await s.insertOrder(tx, k);
      const result = await f.accounts.transition({ key: k, to: 'frozen', actor: 'shop', tx: s.join(tx) });
      // The outside does not see it yet (PGlite has one connection: a read from outside would wait for
      // this transaction to end).
      if (f.db.dialect !== 'pglite') expect(await f.committed(k)).toEqual(NONE);
      return result;
    });
    expect(r.changed).toEqual([k]);
    expect(await f.committed(k)).toEqual(ALL_THREE);
    expect((await f.accounts.history(k)).map((e) => e.version)).toEqual([1]);
  });

  it('a rollback leaves none of the three', async () => {
    const { s, f } = get();
    const k = KEYS.rollback;
    const boom = new Error('the caller changed its mind');
    const err = await rejection(
      s.transaction(async (tx) => {
        await s.insertOrder(tx, k);
        await f.accounts.transition({ key: k, to: 'frozen', actor: 'shop', tx: s.join(tx) });
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    expect(await f.committed(k)).toEqual(NONE);
  });

  it("a savepoint rolled back takes Tally's statements in it along; the outer transaction commits the rest", async () => {
    const { s, f } = get();
    const [undone, kept] = [KEYS.savepointUndone, KEYS.savepointKept];
    const boom = new Error('inner step failed');
    await s.transaction(async (tx) => {
      await s.insertOrder(tx, kept);
      const inner = await rejection(
        s.savepoint(tx, async (sp) => {
          await s.insertOrder(sp, undone);
          await f.accounts.transition({ key: undone, to: 'frozen', actor: 'shop', tx: s.join(sp) });
          throw boom;
        }),
      );
      expect(inner).toBe(boom);
      await f.accounts.transition({ key: kept, to: 'frozen', actor: 'shop', tx: s.join(tx) });
    });
    expect(await f.committed(undone)).toEqual(NONE);
    expect(await f.committed(kept)).toEqual(ALL_THREE);
  });

  it("a Tally statement failing in the database: PostgreSQL aborts the ORM's transaction, MySQL keeps it open with nothing of Tally's change in it; nothing commits", async () => {
    const { s, f } = get();
    const k = KEYS.failing;
    let tallyErr: unknown;
    let logInTransaction: number | undefined;
    const outer = await rejection(
      s.transaction(async (tx) => {
        await s.insertOrder(tx, k);
        tallyErr = await rejection(
          f.accounts.transition({ key: k, to: 'frozen', actor: 'shop', tx: s.join(tx) }),
        );
        if (f.db.dialect !== 'mysql') {
          await s.insertOrder(tx, k * 10); // the caller carries on: the database refuses (25P02)
          return;
        }
        // MySQL rolls back only a failing statement and the transaction goes on (the caller's next write
        // succeeds). Tally's savepoint took the log row it inserted before the refused UPDATE along, so a
        // caller who caught the error and committed would not keep a log row for a change that did not happen.
        await s.insertOrder(tx, k * 10);
        logInTransaction = await f.logRows(s.join(tx), k);
        throw tallyErr;
      }),
    );
    expectDatabaseRefusal(tallyErr, f.db);
    if (f.db.dialect === 'mysql') {
      expect(outer).toBe(tallyErr);
      expect(logInTransaction).toBe(0);
    } else {
      expectAborted(outer);
    }
    expect(await f.committed(k)).toEqual({ ...NONE, order: 0 });
    expect(await count(f.db, `SELECT 1 FROM orders WHERE id = ${k * 10}`)).toBe(0);
  });

  it('a Tally change failing in the database inside a savepoint: the savepoint rolls back all of it, the outer transaction goes on and commits', async () => {
    const { s, f } = get();
    const [k, kept] = [KEYS.failing, KEYS.keptBesideFailure];
    let inner: unknown;
    await s.transaction(async (tx) => {
      await s.insertOrder(tx, kept);
      inner = await rejection(
        s.savepoint(tx, (sp) =>
          f.accounts.transition({ key: k, to: 'frozen', actor: 'shop', tx: s.join(sp) }),
        ),
      );
      await f.accounts.transition({ key: kept, to: 'frozen', actor: 'shop', tx: s.join(tx) });
    });
    expectDatabaseRefusal(inner, f.db);
    // On MySQL too: the log row Tally inserted before the failing UPDATE went with the savepoint.
    expect(await f.committed(k)).toEqual({ ...NONE, order: 0 });
    expect(await f.committed(kept)).toEqual(ALL_THREE);
  });
}

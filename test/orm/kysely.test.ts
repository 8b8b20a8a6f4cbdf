import {
  CamelCasePlugin,
  type Dialect,
  Kysely,
  MysqlDialect,
  PostgresDialect,
  type Transaction,
} from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { fromKysely } from '../../src/orm/kysely/index.js';
import {
  ALL_THREE,
  count,
  NONE,
  type OrmDatabase,
  type OrmFixture,
  type OrmSession,
  ormCases,
  ormFixture,
  serverDialects,
} from './support.js';

interface DB {
  orders: { id: number; note: string };
}

/** Kysely's own dialect for the server: PostgresDialect on pg, MysqlDialect on mysql2 (MariaDB here). */
function dialectFor(base: OrmDatabase): Dialect {
  if (base.dialect === 'mariadb') {
    return new MysqlDialect({ pool: createPool({ uri: base.url!, connectionLimit: 2 }) });
  }
  const pool = new pg.Pool({ connectionString: base.url!, max: 2 });
  pool.on('error', () => {}); // the database is dropped WITH (FORCE) at the end: idle clients get 57P01
  return new PostgresDialect({ pool });
}

// Kysely 0.28 ships no PGlite dialect: PostgreSQL and MariaDB.
for (const d of serverDialects)
  describe.skipIf(!d.available)(`tally/kysely [${d.name}]`, () => {
    let base: OrmDatabase;
    let f: OrmFixture;
    let db: Kysely<DB>;
    let s: OrmSession<Transaction<DB>>;
    beforeAll(async () => {
      base = await d.open();
      f = await ormFixture(base.db);
      // The camel-case plugin would rename entity_key to entityKey in every answer Tally reads: the adapter
      // must run past it.
      db = new Kysely<DB>({ dialect: dialectFor(base), plugins: [new CamelCasePlugin()] });
      s = {
        transaction: (fn) => db.transaction().execute(fn),
        // Kysely has no nested transaction(); its documented savepoints are on a ControlledTransaction.
        savepoint: async (tx, fn) => {
          const ctx = tx as unknown as Awaited<ReturnType<ReturnType<typeof db.startTransaction>['execute']>>;
          if (typeof ctx.savepoint !== 'function') throw new Error('savepoints need a ControlledTransaction');
          const sp = await ctx.savepoint('inner').execute();
          try {
            const r = await fn(sp);
            await sp.releaseSavepoint('inner').execute();
            return r;
          } catch (err) {
            await sp.rollbackToSavepoint('inner').execute();
            throw err;
          }
        },
        insertOrder: async (tx, id) => {
          await tx.insertInto('orders').values({ id, note: '' }).execute();
        },
        join: (tx) => fromKysely(tx),
        close: () => db.destroy(),
      };
    });
    afterAll(async () => {
      await s?.close();
      await base?.close();
    });

    // The shared cases open a ControlledTransaction (its savepoints are Kysely's documented way to nest).
    ormCases(
      () => ({
        f,
        s: {
          ...s,
          transaction: async (fn) => {
            const trx = await db.startTransaction().execute();
            try {
              const r = await fn(trx);
              await trx.commit().execute();
              return r;
            } catch (err) {
              await trx.rollback().execute();
              throw err;
            }
          },
        },
      }),
      it,
    );

    it('db.transaction().execute(): commits together, and a throw rolls all three back', async () => {
      await s.transaction(async (trx) => {
        await s.insertOrder(trx, 8);
        await f.accounts.transition({ key: 8, to: 'frozen', actor: 'shop', tx: fromKysely(trx) });
      });
      expect(await f.committed(8)).toEqual(ALL_THREE);
      const boom = new Error('no');
      await expect(
        s.transaction(async (trx) => {
          await s.insertOrder(trx, 9);
          await f.accounts.transition({ key: 9, to: 'frozen', actor: 'shop', tx: fromKysely(trx) });
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await f.committed(9)).toEqual(NONE);
      expect(await count(f.db, 'SELECT 1 FROM orders WHERE id IN (8, 9)')).toBe(1);
    });

    it('the executor is the dialect the Kysely compiles for', async () => {
      await s.transaction(async (trx) => {
        expect(fromKysely(trx).dialect).toBe(d.name === 'mariadb' ? 'mysql' : 'postgres');
      });
    });

    it('refuses the Kysely instance itself: Tally joins a transaction, never opens one on it', () => {
      let err: unknown;
      try {
        fromKysely(db as unknown as Transaction<DB>);
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
    });
  });

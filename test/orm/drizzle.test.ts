import type { PGlite } from '@electric-sql/pglite';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { createPool } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { fromDrizzle } from '../../src/orm/drizzle/index.js';
import {
  type OrmDatabase,
  type OrmFixture,
  type OrmSession,
  ormCases,
  ormDialects,
  ormFixture,
} from './support.js';

const orders = pgTable('orders', {
  id: integer('id').primaryKey(),
  note: text('note').notNull().default(''),
});
const schema = { orders };
const mysqlOrders = mysqlTable('orders', {
  id: int('id').primaryKey(),
  note: varchar('note', { length: 100 }).notNull().default(''),
});

function pgSession(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // The database is dropped WITH (FORCE) at the end: an idle client then gets 57P01, which an unheard
  // pool raises as an uncaught exception (test/support/databases.ts does the same for its pools).
  pool.on('error', () => {});
  const db = drizzlePg(pool, { schema });
  type Tx = Parameters<Parameters<typeof db.transaction>[0]>[0];
  const s: OrmSession<Tx> = {
    transaction: (fn) => db.transaction(fn),
    savepoint: (tx, fn) => tx.transaction(fn),
    insertOrder: async (tx, id) => {
      await tx.insert(orders).values({ id });
    },
    join: (tx) => fromDrizzle(tx),
    close: () => pool.end(),
  };
  return s;
}

function pgliteSession(embedded: PGlite) {
  const db = drizzlePglite(embedded, { schema });
  type Tx = Parameters<Parameters<typeof db.transaction>[0]>[0];
  const s: OrmSession<Tx> = {
    transaction: (fn) => db.transaction(fn),
    savepoint: (tx, fn) => tx.transaction(fn),
    insertOrder: async (tx, id) => {
      await tx.insert(orders).values({ id });
    },
    join: (tx) => fromDrizzle(tx),
    close: async () => {},
  };
  return s;
}

function mysqlSession(url: string) {
  const pool = createPool({ uri: url, connectionLimit: 2 });
  const db = drizzleMysql(pool, { schema: { orders: mysqlOrders }, mode: 'default' });
  type Tx = Parameters<Parameters<typeof db.transaction>[0]>[0];
  const s: OrmSession<Tx> = {
    transaction: (fn) => db.transaction(fn),
    savepoint: (tx, fn) => tx.transaction(fn), // Drizzle on MySQL: a nested transaction is a savepoint
    insertOrder: async (tx, id) => {
      await tx.insert(mysqlOrders).values({ id });
    },
    join: (tx) => fromDrizzle(tx),
    close: () => pool.end(),
  };
  return s;
}

function sessionFor(base: OrmDatabase) {
  if (base.embedded) return pgliteSession(base.embedded);
  return base.dialect === 'mariadb' ? mysqlSession(base.url!) : pgSession(base.url!);
}

for (const d of ormDialects) {
  describe.skipIf(!d.available)(`tally/drizzle [${d.name}]`, () => {
    let base: OrmDatabase;
    let f: OrmFixture;
    let s: OrmSession<unknown>;
    beforeAll(async () => {
      base = await d.open();
      f = await ormFixture(base.db);
      s = sessionFor(base) as OrmSession<unknown>;
    });
    afterAll(async () => {
      await s?.close();
      await base?.close();
    });

    ormCases(() => ({ s, f }), it);

    it('the executor names the dialect of the driver, in its type and at run time', async () => {
      if (base.dialect === 'mariadb') {
        const pool = createPool({ uri: base.url!, connectionLimit: 1 });
        await drizzleMysql(pool).transaction(async (tx) => {
          const ex = fromDrizzle(tx);
          expectTypeOf(ex.dialect).toEqualTypeOf<'mysql'>();
          expectTypeOf(ex.server).toBeFunction(); // a MysqlExecutor: the server's capability flags
          expect(ex.dialect).toBe('mysql');
          expect((await ex.server()).kind).toBe('mariadb');
        });
        await pool.end();
      } else if (base.embedded) {
        await drizzlePglite(base.embedded).transaction(async (tx) => {
          const ex = fromDrizzle(tx);
          expectTypeOf(ex.dialect).toEqualTypeOf<'pglite'>();
          expect(ex.dialect).toBe('pglite');
        });
      } else {
        const pool = new pg.Pool({ connectionString: base.url!, max: 1 });
        pool.on('error', () => {});
        await drizzlePg(pool).transaction(async (tx) => {
          const ex = fromDrizzle(tx);
          expectTypeOf(ex.dialect).toEqualTypeOf<'postgres'>();
          expect(ex.dialect).toBe('postgres');
        });
        await pool.end();
      }
    });

    it('refuses what is not a Drizzle transaction, naming what to pass', () => {
      const err = (() => {
        try {
          fromDrizzle({} as never);
        } catch (e) {
          return e;
        }
      })();
      expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
      expect(String((err as Error).message)).toMatch(/Drizzle transaction/);
    });
  });
}

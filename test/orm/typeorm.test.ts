import { DataSource, type EntityManager, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { fromTypeORM } from '../../src/orm/typeorm/index.js';
import {
  ALL_THREE,
  NONE,
  type OrmDatabase,
  type OrmFixture,
  type OrmSession,
  ormCases,
  ormFixture,
  serverDialects,
} from './support.js';

const Order = new EntitySchema<{ id: number; note: string }>({
  name: 'Order',
  tableName: 'orders',
  columns: { id: { type: Number, primary: true }, note: { type: String, default: '' } },
});

// TypeORM has no PGlite driver: PostgreSQL (type postgres) and MariaDB (type mariadb, on mysql2).
for (const d of serverDialects)
  describe.skipIf(!d.available)(`tally/typeorm [${d.name}]`, () => {
    let base: OrmDatabase;
    let f: OrmFixture;
    let ds: DataSource;
    let s: OrmSession<EntityManager>;
    beforeAll(async () => {
      base = await d.open();
      f = await ormFixture(base.db);
      const options = { url: base.url!, entities: [Order], poolSize: 2, logging: false };
      ds = new DataSource(
        d.name === 'mariadb' ? { type: 'mariadb', ...options } : { type: 'postgres', ...options },
      );
      await ds.initialize();
      s = {
        transaction: (fn) => ds.transaction(fn),
        savepoint: (manager, fn) => manager.transaction(fn), // nested: a savepoint on the same connection
        insertOrder: async (manager, id) => {
          await manager.insert(Order, { id, note: '' });
        },
        join: (manager) => fromTypeORM(manager),
        close: () => ds.destroy(),
      };
    });
    afterAll(async () => {
      await s?.close();
      await base?.close();
    });

    ormCases(() => ({ s, f }), it);

    it('a QueryRunner the caller drives: commit keeps all three, rollback none', async () => {
      const qr = ds.createQueryRunner();
      try {
        await qr.startTransaction();
        await qr.manager.insert(Order, { id: 8, note: '' });
        await f.accounts.transition({ key: 8, to: 'frozen', actor: 'shop', tx: fromTypeORM(qr) });
        await qr.commitTransaction();
        expect(await f.committed(8)).toEqual(ALL_THREE);

        await qr.startTransaction();
        await qr.manager.insert(Order, { id: 9, note: '' });
        await f.accounts.transition({ key: 9, to: 'frozen', actor: 'shop', tx: fromTypeORM(qr.manager) });
        await qr.rollbackTransaction();
        expect(await f.committed(9)).toEqual(NONE);
      } finally {
        await qr.release();
      }
    });

    it('the executor is the dialect of the data source', async () => {
      await ds.transaction(async (manager) => {
        expect(fromTypeORM(manager).dialect).toBe(d.name === 'mariadb' ? 'mysql' : 'postgres');
      });
    });

    it('refuses a manager or runner outside a transaction', async () => {
      const qr = ds.createQueryRunner();
      const errs: unknown[] = [];
      for (const x of [ds.manager, qr]) {
        try {
          fromTypeORM(x);
        } catch (e) {
          errs.push(e);
        }
      }
      await qr.release();
      expect(errs.map((e) => isTallyError(e, 'INVALID_CONFIG'))).toEqual([true, true]);
    });
  });

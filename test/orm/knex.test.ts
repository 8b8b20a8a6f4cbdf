import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { fromKnex } from '../../src/orm/knex/index.js';
import { toQuestionMarks } from '../../src/orm/knex/placeholders.js';
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

it("Tally's $n placeholders become Knex's ?, values repeated in order; a literal ? is escaped", () => {
  expect(toQuestionMarks(`SELECT $2::text, $1::int, $1::int, '{"a":1}'::jsonb ? 'a'`, [7, 'x'])).toEqual({
    text: `SELECT ?::text, ?::int, ?::int, '{"a":1}'::jsonb \\? 'a'`,
    bindings: ['x', 7, 7],
  });
  expect(toQuestionMarks('SELECT $1', [undefined]).bindings).toEqual([null]);
  expect(() => toQuestionMarks('SELECT $2', [1])).toThrow(
    expect.objectContaining({ code: 'INVALID_STATEMENT' }),
  );
});

// Knex has no PGlite client of its own: PostgreSQL (client pg) and MariaDB (client mysql2).
for (const d of serverDialects)
  describe.skipIf(!d.available)(`tally/knex [${d.name}]`, () => {
    let base: OrmDatabase;
    let f: OrmFixture;
    let knex: Knex;
    let s: OrmSession<Knex.Transaction>;
    beforeAll(async () => {
      base = await d.open();
      f = await ormFixture(base.db);
      const client = d.name === 'mariadb' ? 'mysql2' : 'pg';
      knex = knexFactory({ client, connection: base.url!, pool: { min: 0, max: 2 } });
      s = {
        transaction: (fn) => knex.transaction(fn),
        savepoint: (tx, fn) => tx.transaction(fn), // Knex: a nested transaction is a savepoint
        insertOrder: async (tx, id) => {
          await tx('orders').insert({ id });
        },
        join: (tx) => fromKnex(tx),
        close: () => knex.destroy(),
      };
    });
    afterAll(async () => {
      await s?.close();
      await base?.close();
    });

    ormCases(() => ({ s, f }), it);

    it('a transaction the caller commits and rolls back by hand (await knex.transaction())', async () => {
      const trx = await knex.transaction();
      await trx('orders').insert({ id: 8 });
      await f.accounts.transition({ key: 8, to: 'frozen', actor: 'shop', tx: fromKnex(trx) });
      await trx.commit();
      expect(await f.committed(8)).toEqual(ALL_THREE);

      const trx2 = await knex.transaction();
      await trx2('orders').insert({ id: 9 });
      await f.accounts.transition({ key: 9, to: 'frozen', actor: 'shop', tx: fromKnex(trx2) });
      await trx2.rollback();
      expect(await f.committed(9)).toEqual(NONE);
    });

    it('the executor is the dialect of the Knex client', async () => {
      await knex.transaction(async (trx) => {
        expect(fromKnex(trx).dialect).toBe(d.name === 'mariadb' ? 'mysql' : 'postgres');
      });
    });

    it('refuses the knex instance itself: Tally joins a transaction, never opens one on it', () => {
      let err: unknown;
      try {
        fromKnex(knex as unknown as Knex.Transaction);
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
    });
  });

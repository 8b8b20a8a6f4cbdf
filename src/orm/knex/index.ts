import type { Knex } from 'knex';
import type { DialectName, Executor, Row } from '../../db/types.js';
import { boundExecutor, notATransaction } from '../bound.js';
import { mysqlBoundExecutor } from '../mysql-bound.js';
import { toQuestionMarks } from './placeholders.js';

export interface FromKnexOptions {
  /**
   * The database behind a PostgreSQL Knex client: `postgres` (the `pg` client, the default) or `pglite`.
   * A `mysql2` client is told by Knex itself (`client.dialect`) and gives a `mysql` executor.
   */
  dialect?: DialectName;
}

/**
 * Joins Tally's statements to the Knex transaction you hold (the `trx` of `knex.transaction(async (trx)
 * => ...)`, a nested `trx.transaction(...)` savepoint, or a `await knex.transaction()` you commit
 * yourself). Each statement runs as `trx.raw` on the transaction's connection, so your writes, the state
 * change and its log row commit or roll back together. Knex's client is PostgreSQL (`pg`), or `mysql2`
 * (MySQL 8.0 / MariaDB: a `mysql` executor, decision 0123).
 *
 * @example
 * import { fromKnex } from 'tally/knex';
 * await knex.transaction(async (trx) => {
 *   await trx('orders').insert({ id: 1 });
 *   await accounts.transition({ key: 7, to: 'frozen', actor: 'shop', tx: fromKnex(trx) });
 * });
 */
export function fromKnex<TRecord extends {}, TResult>(
  trx: Knex.Transaction<TRecord, TResult>,
  options: FromKnexOptions = {},
): Executor {
  const t = trx as Partial<Knex.Transaction<TRecord, TResult>> | null;
  if (typeof t?.raw !== 'function' || t.isTransaction !== true) {
    throw notATransaction('knex', 'a Knex transaction');
  }
  if (knexDialect(trx) === 'mysql') {
    return mysqlBoundExecutor(
      async (text, values) => {
        // Knex's raw answers mysql2's [rows, fields]: rows, or for a write its header.
        const [rows] = (await trx.raw(text, values as Knex.RawBinding[])) as unknown as [unknown];
        return (Array.isArray(rows) ? rows : [rows]) as Row[];
      },
      // Knex prefixes the message with the statement, values filled in; mysql2 keeps the server's own.
      (err) => {
        const e = err as { sqlMessage?: unknown; errno?: unknown; sqlState?: unknown; code?: unknown } | null;
        if (!(err instanceof Error) || typeof e?.sqlMessage !== 'string') return err;
        const { errno, sqlState, code } = e;
        return Object.assign(new Error(e.sqlMessage, { cause: err }), { errno, sqlState, code });
      },
    );
  }
  return boundExecutor(options.dialect ?? 'postgres', async (text, values) => {
    const q = toQuestionMarks(text, values);
    const res = (await trx.raw(q.text, q.bindings as Knex.RawBinding[])) as unknown as { rows?: Row[] };
    return res.rows ?? [];
  });
}

/** Knex names its SQL dialect on the client (`'postgresql'`, `'mysql'` for the mysql and mysql2 drivers). */
function knexDialect(trx: object): 'mysql' | 'other' {
  return (trx as { client?: { dialect?: unknown } }).client?.dialect === 'mysql' ? 'mysql' : 'other';
}

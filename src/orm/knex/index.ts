import type { Knex } from 'knex';
import type { DialectName, Executor, Row } from '../../db/types.js';
import { boundExecutor, notATransaction } from '../bound.js';
import { toQuestionMarks } from './placeholders.js';

export interface FromKnexOptions {
  /** The database behind the Knex client: `postgres` (the `pg` client, the default) or `pglite`. */
  dialect?: DialectName;
}

/**
 * Joins Tally's statements to the Knex transaction you hold (the `trx` of `knex.transaction(async (trx)
 * => ...)`, a nested `trx.transaction(...)` savepoint, or a `await knex.transaction()` you commit
 * yourself). Each statement runs as `trx.raw` on the transaction's connection, so your writes, the state
 * change and its log row commit or roll back together. Knex's client must be PostgreSQL (`pg`).
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
  return boundExecutor(options.dialect ?? 'postgres', async (text, values) => {
    const q = toQuestionMarks(text, values);
    const res = (await trx.raw(q.text, q.bindings as Knex.RawBinding[])) as unknown as { rows?: Row[] };
    return res.rows ?? [];
  });
}

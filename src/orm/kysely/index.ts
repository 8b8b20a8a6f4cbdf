import type { CompiledQuery, Transaction } from 'kysely';
import type { DialectName, Executor, Row } from '../../db/types.js';
import { boundExecutor, notATransaction } from '../bound.js';

export interface FromKyselyOptions {
  /**
   * The database the Kysely dialect talks to: `postgres` (Kysely's PostgresDialect on `pg`, the
   * default) or `pglite` (a PGlite dialect: PGlite answers with its own value types).
   */
  dialect?: DialectName;
}

/**
 * Joins Tally's statements to the Kysely transaction you hold: the `trx` of
 * `db.transaction().execute(async (trx) => ...)`, or a ControlledTransaction from
 * `db.startTransaction().execute()` (its savepoints included). Each statement runs as a raw compiled
 * query on the transaction's connection, past your plugins (a CamelCasePlugin must not rename the
 * columns Tally reads back), so your writes, the state change and its log row commit or roll back together.
 *
 * @example
 * import { fromKysely } from 'tally/kysely';
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('orders').values({ id: 1 }).execute();
 *   await accounts.transition({ key: 7, to: 'frozen', actor: 'shop', tx: fromKysely(trx) });
 * });
 */
export function fromKysely<DB>(trx: Transaction<DB>, options: FromKyselyOptions = {}): Executor {
  if (!isTransaction(trx)) throw notATransaction('kysely', 'a Kysely Transaction');
  const bare = trx.withoutPlugins();
  return boundExecutor(options.dialect ?? 'postgres', async (text, values) => {
    const res = await bare.executeQuery<Row>(rawQuery(text, values));
    return [...res.rows];
  });
}

function isTransaction(x: unknown): x is Transaction<unknown> {
  const t = x as Partial<Transaction<unknown>> | null;
  return (
    typeof t === 'object' &&
    t !== null &&
    t.isTransaction === true &&
    typeof t.executeQuery === 'function' &&
    typeof t.withoutPlugins === 'function'
  );
}

/**
 * What Kysely's `CompiledQuery.raw(text, values)` builds, built here so kysely stays a type-only import
 * (the subpath loads whichever copy of Kysely the caller has; a compiled query is plain data).
 */
function rawQuery(sql: string, parameters: unknown[]): CompiledQuery<Row> {
  return Object.freeze({
    sql,
    query: Object.freeze({
      kind: 'RawNode',
      sqlFragments: Object.freeze([sql]),
      parameters: Object.freeze([]),
    }),
    parameters: Object.freeze(parameters),
    queryId: { queryId: `tally-${Math.random().toString(36).slice(2, 10)}` },
  }) as CompiledQuery<Row>;
}

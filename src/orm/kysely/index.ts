import type { CompiledQuery, Transaction } from 'kysely';
import type { DialectName, Executor, Row } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { boundExecutor, notATransaction } from '../bound.js';
import { mysqlBoundExecutor } from '../mysql-bound.js';

export interface FromKyselyOptions {
  /**
   * The database a PostgreSQL-family Kysely dialect talks to: `postgres` (Kysely's PostgresDialect on
   * `pg`, the default) or `pglite` (a PGlite dialect: PGlite answers with its own value types). Kysely's
   * MysqlDialect is told by the SQL it compiles (backquoted names, `?`) and gives a `mysql` executor.
   */
  dialect?: DialectName;
}

/**
 * Joins Tally's statements to the Kysely transaction you hold: the `trx` of
 * `db.transaction().execute(async (trx) => ...)`, or a ControlledTransaction from
 * `db.startTransaction().execute()` (its savepoints included). Each statement runs as a raw compiled
 * query on the transaction's connection, past your plugins (a CamelCasePlugin must not rename the
 * columns Tally reads back), so your writes, the state change and its log row commit or roll back together.
 * On Kysely's MysqlDialect (mysql2; MySQL 8.0 or MariaDB) the executor is a `mysql` one (decision 0123).
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
  const family = sqlFamily(bare);
  if (family === 'mysql' && (options.dialect ?? 'mysql') === 'mysql') {
    return mysqlBoundExecutor(async (text, values) => {
      const res = await bare.executeQuery<Row>(rawQuery(text, values));
      // Kysely turns mysql2's write header into numAffectedRows (rows: []); Tally reads affectedRows.
      if (res.numAffectedRows !== undefined && res.rows.length === 0) {
        return [{ affectedRows: Number(res.numAffectedRows), insertId: res.insertId }];
      }
      return [...res.rows];
    });
  }
  if (family !== 'postgres' || options.dialect === 'mysql') {
    throw new TallyError(
      'INVALID_CONFIG',
      'tally/kysely joins a transaction of a PostgreSQL (PostgresDialect, PGlite) or MySQL (MysqlDialect) Kysely',
    );
  }
  return boundExecutor(options.dialect ?? 'postgres', async (text, values) => {
    const res = await bare.executeQuery<Row>(rawQuery(text, values));
    return [...res.rows];
  });
}

/**
 * Which SQL the transaction's dialect writes, read from a query it compiles (no round trip, and no
 * dialect class named, so a third-party PGlite dialect counts as PostgreSQL): PostgreSQL quotes names
 * with `"` and numbers its parameters (`$1`); MySQL quotes with backquotes and sends `?`.
 */
function sqlFamily<DB>(trx: Transaction<DB>): 'postgres' | 'mysql' | null {
  const probe = trx as unknown as Transaction<Record<'t', { c: number }>>;
  const { sql } = probe.selectFrom('t').select('c').where('c', '=', 0).compile();
  if (sql.includes('`c`') && sql.endsWith('?')) return 'mysql';
  if (sql.includes('"c"') && sql.endsWith('$1')) return 'postgres';
  return null;
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

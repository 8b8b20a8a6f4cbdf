import type { TablesRelationalConfig } from 'drizzle-orm';
import type { MySqlTransaction } from 'drizzle-orm/mysql-core';
import type { MySql2PreparedQueryHKT, MySql2QueryResultHKT } from 'drizzle-orm/mysql2';
import type { NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import type { PgTransaction } from 'drizzle-orm/pg-core';
import type { PgliteQueryResultHKT } from 'drizzle-orm/pglite';
import { joinTransaction } from '../../db/joined.js';
import { joinMysql, type MysqlConnectionLike, type MysqlExecutor } from '../../db/mysql/join.js';
import type { Executor, QueryableLike } from '../../db/types.js';
import { notATransaction } from '../bound.js';

/** The result kinds of the two drivers Tally joins: node-postgres (`pg`) and PGlite. */
export type DrizzleDriverResult = NodePgQueryResultHKT | PgliteQueryResultHKT;

/** The executor's dialect follows the driver of the transaction passed in. */
export type DrizzleExecutor<R extends DrizzleDriverResult> = Executor & {
  readonly dialect: R extends PgliteQueryResultHKT ? 'pglite' : 'postgres';
};

// Drizzle marks its classes with this registry symbol (drizzle-orm's `entityKind`); reading it here keeps
// drizzle-orm a type-only import, so this subpath loads without pulling a second copy of the library.
const entityKind = Symbol.for('drizzle:entityKind');

/** A Drizzle transaction on the mysql2 driver (`drizzle-orm/mysql2`, MySQL 8.0 or MariaDB). */
export type DrizzleMysql2Transaction<
  TFull extends Record<string, unknown>,
  TSchema extends TablesRelationalConfig,
> = MySqlTransaction<MySql2QueryResultHKT, MySql2PreparedQueryHKT, TFull, TSchema>;

/**
 * Joins Tally's statements to the Drizzle transaction you hold (`db.transaction(async (tx) => ...)`, on
 * the node-postgres, PGlite or mysql2 driver). They run on the very connection Drizzle's transaction
 * holds, as Tally's own executors run them: your writes, the state change and its log row commit or roll
 * back together, and a savepoint (`tx.transaction(...)`) that rolls back takes Tally's statements in it
 * along. On mysql2 the executor is a `mysql` one (MySQL 8.0 / MariaDB, decision 0123).
 *
 * @example
 * import { fromDrizzle } from 'tally/drizzle';
 * await db.transaction(async (tx) => {
 *   await tx.insert(orders).values({ id: 1 });
 *   await accounts.transition({ key: 7, to: 'frozen', actor: 'shop', tx: fromDrizzle(tx) });
 * });
 */
export function fromDrizzle<
  R extends DrizzleDriverResult,
  TFull extends Record<string, unknown>,
  TSchema extends TablesRelationalConfig,
>(tx: PgTransaction<R, TFull, TSchema>): DrizzleExecutor<R>;
export function fromDrizzle<TFull extends Record<string, unknown>, TSchema extends TablesRelationalConfig>(
  tx: DrizzleMysql2Transaction<TFull, TSchema>,
): MysqlExecutor;
export function fromDrizzle(tx: object): Executor {
  const kind = (tx as { constructor?: Record<symbol, unknown> } | null)?.constructor?.[entityKind];
  // The transaction's session holds the connection it runs on (a pg client after BEGIN, a PGlite
  // transaction, a mysql2 promise connection checked out of the pool for this transaction); the fields
  // are private or protected in Drizzle's types, so their shape is checked before use.
  if (kind === 'MySql2Transaction') {
    const conn = (tx as { session?: { client?: unknown } }).session?.client;
    if (isQueryable(conn)) return joinMysql(conn);
  } else if (kind === 'NodePgTransaction' || kind === 'PgliteTransaction') {
    const client = (tx as { _?: { session?: { client?: unknown } } })._?.session?.client;
    if (isQueryable(client))
      return joinTransaction(client, kind === 'PgliteTransaction' ? 'pglite' : 'postgres');
  }
  throw notATransaction('drizzle', 'a node-postgres, PGlite or mysql2 Drizzle transaction');
}

function isQueryable(x: unknown): x is QueryableLike & MysqlConnectionLike {
  return typeof x === 'object' && x !== null && typeof (x as QueryableLike).query === 'function';
}

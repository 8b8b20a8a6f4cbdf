import type { TablesRelationalConfig } from 'drizzle-orm';
import type { NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import type { PgTransaction } from 'drizzle-orm/pg-core';
import type { PgliteQueryResultHKT } from 'drizzle-orm/pglite';
import { joinTransaction } from '../../db/joined.js';
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

/**
 * Joins Tally's statements to the Drizzle transaction you hold (`db.transaction(async (tx) => ...)`, on
 * the node-postgres or the PGlite driver). They run on the very connection Drizzle's transaction holds,
 * as Tally's own executors run them: your writes, the state change and its log row commit or roll back
 * together, and a savepoint (`tx.transaction(...)`) that rolls back takes Tally's statements in it along.
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
>(tx: PgTransaction<R, TFull, TSchema>): DrizzleExecutor<R> {
  const kind = (tx as unknown as { constructor?: Record<symbol, unknown> } | null)?.constructor?.[entityKind];
  // The transaction's session holds the connection it runs on (a pg client after BEGIN, a PGlite
  // transaction); the field is private in Drizzle's types, so its shape is checked before use.
  const client = (tx as unknown as { _?: { session?: { client?: unknown } } })._?.session?.client;
  if ((kind !== 'NodePgTransaction' && kind !== 'PgliteTransaction') || !isQueryable(client)) {
    throw notATransaction('drizzle', 'a node-postgres or PGlite Drizzle transaction');
  }
  const dialect = kind === 'PgliteTransaction' ? 'pglite' : 'postgres';
  return joinTransaction(client, dialect) as DrizzleExecutor<R>;
}

function isQueryable(x: unknown): x is QueryableLike {
  return typeof x === 'object' && x !== null && typeof (x as QueryableLike).query === 'function';
}

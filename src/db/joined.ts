import { wrapDbError } from './errors.js';
import { checkStatement } from './statement.js';
import type { DialectName, Executor, QueryableLike, Row, SqlQuery } from './types.js';

/**
 * An executor bound to a transaction somebody else opened (a `pg` client after BEGIN, a PGlite
 * transaction). Tally's statements join it; commit and rollback stay with the caller.
 */
export function joinTransaction(conn: QueryableLike, dialect: DialectName): Executor {
  const self: Executor = {
    dialect,
    inTransaction: true,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      checkStatement(q);
      try {
        const values = (q.values ?? []) as unknown[];
        const res =
          q.name && dialect === 'postgres'
            ? await (conn as unknown as PgConfigQuery).query({ name: q.name, text: q.text, values })
            : await conn.query(q.text, values);
        return res.rows as R[];
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        // PGlite runs several statements only through exec(); pg runs them through a plain query.
        const multi = (conn as { exec?: (t: string) => Promise<unknown> }).exec;
        if (typeof multi === 'function') await multi.call(conn, text);
        else await conn.query(text);
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    transaction: (fn) => fn(self),
    close: async () => {},
  };
  return self;
}

/** Accepts an Executor or a raw driver connection and returns an Executor. */
export function asExecutor(tx: Executor | QueryableLike, dialect: DialectName): Executor {
  if (isExecutor(tx)) return tx;
  return joinTransaction(tx, dialect);
}

export function isExecutor(x: unknown): x is Executor {
  return typeof x === 'object' && x !== null && 'inTransaction' in x && 'exec' in x && 'dialect' in x;
}

/** `pg` also takes a query config object, which is how a statement is named (prepared). */
export interface PgConfigQuery {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: any[] }>;
}

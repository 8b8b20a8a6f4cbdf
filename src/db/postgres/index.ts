import { loadDriver } from '../driver.js';
import { wrapDbError } from '../errors.js';
import { ISOLATION_SQL } from '../isolation.js';
import { joinTransaction, type PgConfigQuery } from '../joined.js';
import { checkStatement } from '../statement.js';
import type { Executor, Row, SqlQuery } from '../types.js';
import { beginWith, commitWith } from './begin-with.js';

/** The part of a `pg` PoolClient Tally uses. */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  release(err?: boolean | Error): void;
  on?(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'error', listener: (err: Error) => void): unknown;
}

/** The part of a `pg` Pool Tally uses; any pool with this shape works. */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  end?(): Promise<void>;
}

/**
 * A PostgreSQL executor over a `pg` Pool (or a connection string, for which a pool is created and
 * owned: `close()` ends it).
 *
 * @example
 * import pg from 'pg';
 * const db = postgres(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * const tally = await createTally({ db });
 */
export function postgres(pool: PgPoolLike): Executor;
export function postgres(connectionString: string): Promise<Executor>;
export function postgres(source: PgPoolLike | string): Executor | Promise<Executor> {
  if (typeof source === 'string') {
    return loadDriver('pg', () => import('pg')).then((mod) => {
      const Pool = (mod.default ?? mod).Pool;
      const pool = new Pool({ connectionString: source });
      // An idle pooled connection that dies (server restart, admin kill) is emitted as 'error' on the
      // pool; unheard, it would crash the process. The pool drops that client and opens a new one later.
      pool.on('error', () => {});
      return fromPool(pool as unknown as PgPoolLike, true);
    });
  }
  return fromPool(source, false);
}

function fromPool(pool: PgPoolLike, owned: boolean): Executor {
  return {
    dialect: 'postgres',
    inTransaction: false,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      checkStatement(q);
      try {
        const values = (q.values ?? []) as unknown[];
        const res = q.name
          ? await (pool as unknown as PgConfigQuery).query({ name: q.name, text: q.text, values })
          : await pool.query(q.text, values);
        return res.rows as R[];
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await pool.query(text);
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    async transaction(fn, options) {
      let client: PgClientLike;
      try {
        client = await pool.connect();
      } catch (err) {
        throw wrapDbError(err);
      }
      let broken = false;
      let fromCaller = false;
      // A connection that dies while checked out emits 'error' on the client; unheard, it crashes the
      // process. Hear it, and never hand that client back to the pool.
      const onError = () => {
        broken = true;
      };
      client.on?.('error', onError);
      try {
        const begin = `BEGIN ISOLATION LEVEL ${ISOLATION_SQL[options?.isolation ?? 'read committed']}`;
        if (options?.opening) {
          checkStatement(options.opening);
          const rows = await beginWith(client, begin, options.opening);
          options.opened?.(rows);
        } else {
          await client.query(begin);
        }
        fromCaller = true;
        let committed = false;
        const joined = joinTransaction(client, 'postgres');
        const tx: Executor = {
          ...joined,
          query(q) {
            if (committed) throw new Error('this transaction was committed with its last statement');
            return joined.query(q);
          },
          transaction: (inner) => inner(tx),
          async commitWith<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
            checkStatement(q);
            try {
              const rows = await commitWith(client, q);
              committed = true;
              return rows as R[];
            } catch (err) {
              throw wrapDbError(err);
            }
          },
        };
        const result = await fn(tx);
        fromCaller = false;
        if (!committed) await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone; do not hand it back to the pool
        }
        // What the callback threw is the caller's (or already wrapped): hand it back untouched.
        throw fromCaller ? err : wrapDbError(err);
      } finally {
        client.off?.('error', onError);
        client.release(broken);
      }
    },
    async close() {
      if (owned) await pool.end?.();
    },
  };
}

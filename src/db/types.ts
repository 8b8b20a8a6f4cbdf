/** A parameterized statement. Values travel separately from the text, always. */
export interface SqlQuery {
  readonly text: string;
  readonly values?: readonly unknown[];
  /**
   * Asks the driver to prepare the statement once per connection under this name (PostgreSQL only;
   * other dialects ignore it). Set only for hot statements whose text never varies with the data.
   */
  readonly name?: string;
}

export type Row = Record<string, unknown>;

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** `mysql` covers MySQL 8.0 and MariaDB; which server and version is a capability of its executor (src/db/mysql). */
export type DialectName = 'postgres' | 'pglite' | 'mysql';

export interface TransactionOptions {
  isolation?: Isolation;
  /**
   * A statement to run first in the transaction, right after BEGIN — on PostgreSQL in the same round trip
   * (decision 0125). An executor that runs it hands its rows to `opened` before `fn` starts; one that does
   * not (it may ignore both) leaves `opened` uncalled, and the caller runs the statement itself.
   */
  opening?: SqlQuery;
  opened?: (rows: Row[]) => void;
}

/**
 * The one narrow interface every Tally module talks to. A pool-backed executor opens transactions;
 * a transaction-bound executor joins the transaction it already holds.
 */
export interface Executor {
  readonly dialect: DialectName;
  /** True when every query runs inside one open transaction. */
  readonly inTransaction: boolean;
  query<R extends Row = Row>(q: SqlQuery): Promise<R[]>;
  /** Runs several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /**
   * Runs `fn` in a transaction. On a transaction-bound executor `fn` joins the open transaction
   * (the caller owns commit and rollback).
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Only on a transaction the executor opened itself (PostgreSQL): runs `q` as the transaction's last
   * statement and commits, in one round trip (decision 0125). Nothing may run in the transaction after it;
   * when `q` fails nothing is committed and the transaction ends as after any error.
   */
  commitWith?<R extends Row = Row>(q: SqlQuery): Promise<R[]>;
  /** Releases what the executor owns (pools it created, embedded databases it opened). */
  close(): Promise<void>;
}

/**
 * Anything that runs a parameterized query and returns rows: a `pg` Client or PoolClient, a PGlite
 * instance or PGlite transaction. A caller passes one of these to join Tally's writes to its transaction.
 */
export interface QueryableLike {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

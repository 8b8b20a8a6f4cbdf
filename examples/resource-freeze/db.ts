// Opens the example's database with the drivers themselves, as an application would, and hands the
// driver objects to Tally: embedded PGlite by default, PostgreSQL when DATABASE_URL is set.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { type Executor, pglite, pgliteTemplateOptions, postgres, type QueryableLike } from 'tally';

export interface ExampleDb {
  /** Tally's executor over the driver. */
  readonly db: Executor;
  /** Where the data lives, for the output. */
  readonly label: string;
  /** Runs `fn` in a transaction the application opens with its own driver (not through Tally). */
  ownTransaction<T>(fn: (tx: QueryableLike) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * PostgreSQL at DATABASE_URL, else a fresh in-memory PGlite. Every run starts from nothing, so the
 * example can be run again and again with the same output.
 *
 * @example
 * const { db, label, ownTransaction, close } = await openExampleDb();
 */
export async function openExampleDb(): Promise<ExampleDb> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    return {
      db: postgres(pool),
      label: `PostgreSQL ${redact(url)} (schemas resource_freeze and resource_freeze_tally, recreated on each run)`,
      async ownTransaction(fn) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const result = await fn(client);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        } finally {
          client.release();
        }
      },
      close: () => pool.end(),
    };
  }
  // A fresh database from TALLY_PGLITE_TEMPLATE's dump when one is named (a test run names one).
  const embedded = await PGlite.create(pgliteTemplateOptions());
  return {
    db: pglite(embedded),
    label: 'PGlite in memory (embedded PostgreSQL, no server; fresh on each run)',
    ownTransaction: (fn) => embedded.transaction((tx) => fn(tx)),
    close: () => embedded.close(),
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(DATABASE_URL)';
  }
}

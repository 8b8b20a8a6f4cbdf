// Opens the example's database with the drivers themselves, as an application would: embedded PGlite by
// default, PostgreSQL when DATABASE_URL is set. `listen` is what the relay takes for NOTIFY wake-ups.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { type Executor, pglite, pgliteTemplateOptions, postgres } from 'tally';

export interface MirrorDb {
  readonly db: Executor;
  readonly label: string;
  readonly listen: pg.Pool | PGlite;
  close(): Promise<void>;
}

/**
 * PostgreSQL at DATABASE_URL, else a fresh in-memory PGlite.
 *
 * @example
 * const { db, label, listen, close } = await openMirrorDb();
 */
export async function openMirrorDb(): Promise<MirrorDb> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => {});
    return {
      db: postgres(pool),
      label: 'PostgreSQL (DATABASE_URL; schemas nats_mirror and nats_mirror_tally, recreated on each run)',
      listen: pool,
      close: () => pool.end(),
    };
  }
  // A fresh database from TALLY_PGLITE_TEMPLATE's dump when one is named (a test run names one).
  const embedded = await PGlite.create(pgliteTemplateOptions());
  return {
    db: pglite(embedded),
    label: 'PGlite in memory (embedded PostgreSQL, fresh on each run)',
    listen: embedded,
    close: () => embedded.close(),
  };
}

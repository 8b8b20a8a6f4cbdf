// B's database: embedded PGlite in a data directory by default, PostgreSQL when DATABASE_URL is set.
// Both keep their data across restarts (B is killed and restarted in the chain's tests).
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { type Executor, pglite, postgres } from 'tally';

/**
 * Opens B's database.
 *
 * @example
 * const { db, label } = await openDb({ dataDir: '.data/b' });
 */
export async function openDb(o: { url?: string; dataDir: string }): Promise<{ db: Executor; label: string }> {
  if (o.url) {
    const pool = new pg.Pool({ connectionString: o.url, max: 8, connectionTimeoutMillis: 10_000 });
    return { db: postgres(pool), label: `PostgreSQL ${redact(o.url)}` };
  }
  mkdirSync(o.dataDir, { recursive: true });
  // B owns the directory (a second process is refused) and shares it over a local socket, so an operator's
  // `tally downstreams` / `tally requeue` / `tally inspect --data-dir <dir>` reach it while B runs.
  const db = await pglite(o.dataDir, { share: true });
  return { db, label: `PGlite in ${o.dataDir} (shared with the tally CLI through its socket)` };
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

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadDriver } from '../db/driver.js';
import { pglite } from '../db/pglite/index.js';
import { type PgPoolLike, postgres } from '../db/postgres/index.js';
import type { Executor } from '../db/types.js';
import { CliError } from './errors.js';
import type { DatabaseOptions } from './options.js';

/** The embedded database the CLI uses when no PostgreSQL is named. */
export const DEFAULT_DATA_DIR = './.tally-data';

export interface OpenDatabase {
  readonly db: Executor;
  /** Where it is, for messages: `PostgreSQL postgres://app:***@host/db` or `PGlite ./.tally-data`. */
  readonly label: string;
  close(): Promise<void>;
}

/**
 * Opens the database the options name, first that applies: --database-url, --data-dir, the
 * DATABASE_URL environment variable, else embedded PGlite in ./.tally-data.
 * With `mustExist`, a PGlite directory that is not there is an error instead of a new database.
 *
 * @example
 * const { db, label, close } = await openDatabase(opts, process.env, process.cwd(), { mustExist: false });
 */
export async function openDatabase(
  opts: DatabaseOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
  { mustExist }: { mustExist: boolean },
): Promise<OpenDatabase> {
  const url = opts.databaseUrl ?? (opts.dataDir === undefined ? nonEmpty(env.DATABASE_URL) : undefined);
  if (url !== undefined) return openPostgres(url);

  const dir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const path = resolve(cwd, dir);
  if (mustExist && !existsSync(path)) {
    throw new CliError(
      'NO_DATABASE',
      `no PGlite database at ${dir}: run \`tally migrate\` there first, or pass --database-url / set DATABASE_URL`,
    );
  }
  const db = await pglite(path); // DRIVER_MISSING when @electric-sql/pglite is not installed
  return { db, label: `PGlite ${dir}`, close: () => db.close() };
}

async function openPostgres(url: string): Promise<OpenDatabase> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(
      'INVALID_DATABASE_URL',
      'the database URL is not a valid URL (postgres://user@host:5432/db)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new CliError(
      'INVALID_DATABASE_URL',
      `the database URL must start with postgres:// (got ${parsed.protocol}//)`,
    );
  }
  const pg = await loadDriver('pg', () => import('pg'));
  const Pool = (pg.default ?? pg).Pool;
  // A short connect timeout: an unreachable host should fail in seconds, not hang the terminal.
  const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {}); // an idle client dropped by the server must not crash the CLI
  const db = postgres(pool as unknown as PgPoolLike);
  return { db, label: `PostgreSQL ${redactUrl(parsed)}`, close: () => pool.end() };
}

/** The URL without its password, for messages. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.toString());
  if (copy.password) copy.password = '***';
  return copy.toString();
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadDriver } from '../db/driver.js';
import { pglite, readDataDirHolder } from '../db/pglite/index.js';
import { type PgPoolLike, postgres } from '../db/postgres/index.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
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
 * With `mustExist`, a PGlite directory that is not there is an error instead of a new database. With
 * `share`, a PGlite directory this process opens is offered to other processes through its socket.
 * A PGlite directory another process holds is reached through its socket when it shares one, and is
 * DATA_DIR_LOCKED (naming the holder) when it does not. A PostgreSQL that does not answer is DB_ERROR
 * naming the database (password masked) and where the URL came from.
 *
 * @example
 * const { db, label, close } = await openDatabase(opts, process.env, process.cwd(), { mustExist: false });
 */
export async function openDatabase(
  opts: DatabaseOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
  { mustExist, share = false }: { mustExist: boolean; share?: boolean },
): Promise<OpenDatabase> {
  if (opts.databaseUrl !== undefined) return openPostgres(opts.databaseUrl, 'the command line');
  const fromEnv = opts.dataDir === undefined ? nonEmpty(env.DATABASE_URL) : undefined;
  if (fromEnv !== undefined) return openPostgres(fromEnv, 'the DATABASE_URL environment variable');

  const dir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const path = resolve(cwd, dir);
  if (mustExist && !existsSync(path)) {
    throw new CliError(
      'NO_DATABASE',
      `no PGlite database at ${dir}: run \`tally migrate\` there first, or pass --database-url / set DATABASE_URL`,
    );
  }
  // One process owns a PGlite directory (decision 0008). When another holds it and shares it, this
  // command connects through its socket; when it does not, DATA_DIR_LOCKED names the holder (exit 1).
  // DRIVER_MISSING when @electric-sql/pglite (or, for the socket, pg) is not installed.
  // A long-running command (tally serve) that opens the directory itself shares it, so the other commands
  // still reach it through its socket.
  const db = await pglite(path, { ifHeld: 'connect', share });
  const through = db.dialect === 'postgres' ? readDataDirHolder(path) : null;
  const label = through ? `PGlite ${dir} (through the socket of pid ${through.pid})` : `PGlite ${dir}`;
  return { db, label, close: () => db.close() };
}

async function openPostgres(url: string, source: string): Promise<OpenDatabase> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(
      'INVALID_DATABASE_URL',
      `the database URL from ${source} is not a valid URL (postgres://user@host:5432/db)`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new CliError(
      'INVALID_DATABASE_URL',
      `the database URL from ${source} must start with postgres:// (got ${parsed.protocol}//)`,
    );
  }
  const pg = await loadDriver('pg', () => import('pg'));
  const Pool = (pg.default ?? pg).Pool;
  // A short connect timeout: an unreachable host should fail in seconds, not hang the terminal.
  const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {}); // an idle client dropped by the server must not crash the CLI
  const label = `PostgreSQL ${redactUrl(parsed)}`;
  // Connect once now, so that a failure names the database tried and where its URL came from.
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new TallyError('DB_ERROR', `cannot connect to ${label} (URL from ${source}): ${detailOf(err)}`, {
      cause: err,
    });
  }
  const db = postgres(pool as unknown as PgPoolLike);
  return { db, label, close: () => pool.end() };
}

// A refused connection to a name with several addresses is an AggregateError with an empty message.
function detailOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const nested = err instanceof AggregateError ? err.errors : [];
  const parts = nested.map((e: unknown) => (e instanceof Error ? e.message : String(e))).filter(Boolean);
  if (parts.length > 0) return [...new Set(parts)].join('; ');
  return err.message || (err as { code?: string }).code || err.name;
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

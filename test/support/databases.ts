import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { postgres } from '../../src/db/postgres/index.js';
import type { Executor } from '../../src/db/types.js';
import { masked, noteUnavailable } from './skips.js';

/** The server tests use: DATABASE_URL, or the local PostgreSQL every developer machine and CI have. */
export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const inCI = process.env.CI === 'true' || process.env.CI === '1';

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export const postgresAvailable = await reachable(PG_URL);
if (!postgresAvailable && inCI) {
  // Under CI a missing server is a failure, never a silent skip.
  throw new Error(`CI=true but PostgreSQL is not reachable at ${PG_URL.replace(/:[^:@/]*@/, ':***@')}`);
}
if (!postgresAvailable) {
  const from = process.env.DATABASE_URL ? ' (DATABASE_URL)' : '';
  noteUnavailable('PostgreSQL', `not reachable at ${masked(PG_URL)}${from}`);
}

/**
 * DATABASE_URL is set but nothing answers there: suites that would run on it (the examples run B on
 * DATABASE_URL when it is set) skip, as the other PostgreSQL suites do — outside CI only, since under
 * CI=true an unreachable server already failed the run above.
 */
export const databaseUrlUnanswered = (process.env.DATABASE_URL ?? '').trim() !== '' && !postgresAvailable;

export interface TestDatabase {
  readonly dialect: 'pglite' | 'postgres';
  readonly db: Executor;
  /** For postgres: the connection string of this test's own database (child processes use it). */
  readonly url: string | null;
  /** For postgres: a pool on this test's own database, for concurrent clients. */
  readonly pool: pg.Pool | null;
  close(): Promise<void>;
}

/** A fresh, empty PostgreSQL database of its own (dropped by close()). */
export async function freshPostgres(poolSize = 10): Promise<TestDatabase> {
  const name = `tally_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: poolSize });
  // close() drops the database WITH (FORCE): idle clients still closing get 57P01, which an unheard pool
  // would raise as an uncaught exception. Errors of queries still reach their callers.
  pool.on('error', () => {});
  const db = postgres(pool);
  return {
    dialect: 'postgres',
    db,
    url: url.toString(),
    pool,
    async close() {
      await pool.end();
      const a = new pg.Client({ connectionString: PG_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** A fresh in-memory PGlite database. */
export async function freshPGlite(): Promise<TestDatabase> {
  const db = await pglite();
  return { dialect: 'pglite', db, url: null, pool: null, close: () => db.close() };
}

export const dialects = [
  { name: 'pglite' as const, available: true, fresh: freshPGlite },
  { name: 'postgres' as const, available: postgresAvailable, fresh: () => freshPostgres() },
];

/** Runs a suite once per dialect; PostgreSQL is skipped only outside CI when no server answers. */
export function describeEachDialect(title: string, body: (fresh: () => Promise<TestDatabase>) => void): void {
  for (const d of dialects) {
    describe.skipIf(!d.available)(`${title} [${d.name}]`, () => body(d.fresh));
  }
}

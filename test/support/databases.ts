import { randomBytes } from 'node:crypto';
import { createPool, type Pool as MysqlPool } from 'mysql2/promise';
import pg from 'pg';
import { describe } from 'vitest';
import { mysql } from '../../src/db/mysql/index.js';
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

/** The MariaDB (or MySQL) server tests use: MYSQL_URL, or the local MariaDB the machine and CI have. */
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';

async function mysqlReachable(url: string): Promise<boolean> {
  const pool = createPool({ uri: url, connectionLimit: 1, connectTimeout: 3000 });
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await pool.end().catch(() => {});
  }
}

export const mariadbAvailable = await mysqlReachable(MYSQL_URL);
if (!mariadbAvailable && inCI) {
  // As for PostgreSQL: under CI the MariaDB half of the suite must run, never skip.
  throw new Error(`CI=true but MariaDB is not reachable at ${masked(MYSQL_URL)}`);
}
if (!mariadbAvailable) noteUnavailable('MariaDB', `not reachable at ${masked(MYSQL_URL)}`);

export interface TestDatabase {
  readonly dialect: 'pglite' | 'postgres' | 'mariadb';
  readonly db: Executor;
  /** For postgres: the connection string of this test's own database (child processes use it). */
  readonly url: string | null;
  /** For postgres: a pool on this test's own database, for concurrent clients. */
  readonly pool: pg.Pool | null;
  /** For mariadb: a mysql2 pool on this test's own database, for concurrent clients. */
  readonly mysqlPool?: MysqlPool;
  close(): Promise<void>;
}

/** A fresh, empty MariaDB database of its own (`tally_t_<random>`, dropped by close()). */
export async function freshMariadb(poolSize = 10): Promise<TestDatabase> {
  const name = `tally_t_${randomBytes(6).toString('hex')}`;
  const admin = createPool({ uri: MYSQL_URL, connectionLimit: 1 });
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.end();
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  const pool = createPool({ uri: url.toString(), connectionLimit: poolSize, timezone: 'Z' });
  return {
    dialect: 'mariadb',
    db: mysql(pool),
    url: url.toString(),
    pool: null,
    mysqlPool: pool,
    async close() {
      await pool.end();
      const a = createPool({ uri: MYSQL_URL, connectionLimit: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name}`);
      await a.end();
    },
  };
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
  { name: 'pglite' as const, available: true, fresh: freshPGlite, mysql: false },
  { name: 'postgres' as const, available: postgresAvailable, fresh: () => freshPostgres(), mysql: false },
  { name: 'mariadb' as const, available: mariadbAvailable, fresh: () => freshMariadb(), mysql: true },
];

export interface DialectOptions {
  /** The suite's feature runs on MySQL/MariaDB too (issue 17): add the mariadb run. Default false. */
  mysql?: boolean;
}

/**
 * Runs a suite once per dialect; a server is skipped only outside CI when it does not answer. MariaDB
 * runs only for suites that say their feature exists there (`{ mysql: true }`).
 */
export function describeEachDialect(
  title: string,
  body: (fresh: () => Promise<TestDatabase>) => void,
  options: DialectOptions = {},
): void {
  for (const d of dialects) {
    if (d.mysql && !options.mysql) continue;
    describe.skipIf(!d.available)(`${title} [${d.name}]`, () => body(d.fresh));
  }
}

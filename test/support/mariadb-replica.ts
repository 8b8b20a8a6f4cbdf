import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createPool, type Pool } from 'mysql2/promise';
import { masked, noteUnavailable } from './skips.js';

/**
 * The MariaDB primary and its delayed replica that `scripts/mariadb-replica.sh start` runs (MASTER_DELAY 1 s
 * by default, binlog in row format, GTID strict mode). Both are the script's own servers, never the
 * machine's MariaDB on 3306.
 */
export const MARIADB_REPLICA_PRIMARY_URL =
  process.env.MARIADB_REPLICA_PRIMARY_URL ?? 'mysql://root@127.0.0.1:3307/';
export const MARIADB_REPLICA_URL = process.env.MARIADB_REPLICA_URL ?? 'mysql://root@127.0.0.1:3308/';
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const SCRIPT = fileURLToPath(new URL('../../scripts/mariadb-replica.sh', import.meta.url));

/** A pool with the settings the tests use (UTC DATETIMEs); errors of idle connections are heard. */
export function mariadbPool(url: string, size = 10): Pool {
  const pool = createPool({ uri: url, connectionLimit: size, timezone: 'Z', connectTimeout: 2000 });
  // A connection cut under the pool (a killed replica, a proxy cut) must not crash the test process.
  pool.on('connection', (c) => c.on('error', () => {}));
  return pool;
}

async function replicating(url: string): Promise<boolean> {
  const pool = createPool({ uri: url, connectionLimit: 1, connectTimeout: 3000 });
  try {
    const [rows] = await pool.query('SHOW SLAVE STATUS');
    const s = (rows as Record<string, unknown>[])[0];
    return s?.Slave_IO_Running === 'Yes' && s?.Slave_SQL_Running === 'Yes';
  } catch {
    return false;
  } finally {
    await pool.end().catch(() => {});
  }
}

export const mariadbReplicaAvailable = await replicating(MARIADB_REPLICA_URL);
if (!mariadbReplicaAvailable && inCI) {
  // Under CI a missing replica is a failure, never a silent skip.
  throw new Error(
    `CI=true but no MariaDB replica replicates at ${masked(MARIADB_REPLICA_URL)} (scripts/mariadb-replica.sh start)`,
  );
}
if (!mariadbReplicaAvailable) {
  noteUnavailable(
    'MariaDB replica',
    `(the reads tests need one) not replicating at ${masked(MARIADB_REPLICA_URL)}: scripts/mariadb-replica.sh start`,
  );
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface MariadbReplicated {
  readonly name: string;
  readonly primary: Pool;
  readonly replica: Pool;
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  /** Waits until the replica has applied everything the primary has binlogged so far (delay included). */
  catchUp(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A database of its own on the script's primary, waited for until the replica has it too (the replica
 * applies the primary's whole binlog, so test files stay apart by database).
 */
export async function freshMariadbReplicated(
  poolSize = 20,
  urls = { primary: MARIADB_REPLICA_PRIMARY_URL, replica: MARIADB_REPLICA_URL },
  server: 'mariadb' | 'mysql' = 'mariadb',
): Promise<MariadbReplicated> {
  const name = `tally_r_${randomBytes(6).toString('hex')}`;
  const admin = createPool({ uri: urls.primary, connectionLimit: 1 });
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.end();
  const primaryUrl = withDatabase(urls.primary, name);
  const replicaUrl = withDatabase(urls.replica, name);
  // MySQL 8.0 (only when MYSQL_REPLICA_* URLs are given): its GTID set and its wait function.
  const positionSql =
    server === 'mariadb' ? 'SELECT @@gtid_binlog_pos AS pos' : 'SELECT @@GLOBAL.gtid_executed AS pos';
  const waitSql =
    server === 'mariadb'
      ? 'SELECT MASTER_GTID_WAIT(?, ?) AS w'
      : 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS w';
  const catchUpOn = async (primary: Pool, replica: Pool, timeoutMs: number) => {
    const [rows] = await primary.query(positionSql);
    const pos = String((rows as { pos: string }[])[0]?.pos ?? '');
    if (pos === '') return;
    const [r] = await replica.query(waitSql, [pos, timeoutMs / 1000]);
    if (Number((r as { w: unknown }[])[0]?.w) !== 0) throw new Error('the MariaDB replica did not catch up');
  };
  // The database exists on the replica once it has applied the CREATE DATABASE (a delay later).
  const adminP = createPool({ uri: urls.primary, connectionLimit: 1 });
  const adminR = createPool({ uri: urls.replica, connectionLimit: 1 });
  await catchUpOn(adminP, adminR, 30_000).finally(() => Promise.all([adminP.end(), adminR.end()]));
  const primary = mariadbPool(primaryUrl, poolSize);
  const replica = mariadbPool(replicaUrl, poolSize);
  const catchUp = (timeoutMs = 30_000) => catchUpOn(primary, replica, timeoutMs);
  return {
    name,
    primary,
    replica,
    primaryUrl,
    replicaUrl,
    catchUp,
    async close() {
      await replica.end().catch(() => {});
      await primary.end().catch(() => {});
      const a = createPool({ uri: urls.primary, connectionLimit: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name}`);
      await a.end();
    },
  };
}

/** The replica's MASTER_DELAY in seconds, as it runs now. */
export async function mariadbReplicaDelay(replica: Pool): Promise<number> {
  const [rows] = await replica.query('SHOW SLAVE STATUS');
  return Number((rows as Record<string, unknown>[])[0]?.SQL_Delay);
}

/**
 * A MySQL 8.0 primary and replica (with `SOURCE_DELAY`, GTID mode on), only when both URLs are given:
 * MySQL 8.0 is not installable on this machine, so its tests run where one is (decision 0136).
 */
export const MYSQL8_REPLICA = {
  primary: process.env.MYSQL_REPLICA_PRIMARY_URL ?? '',
  replica: process.env.MYSQL_REPLICA_URL ?? '',
};
export const mysql8ReplicaGiven = MYSQL8_REPLICA.primary !== '' && MYSQL8_REPLICA.replica !== '';
if (!mysql8ReplicaGiven) {
  // Optional everywhere (CI has no MySQL 8.0 either): only explained in the skip summary.
  noteUnavailable(
    'MySQL 8.0 replica',
    '(optional) not given: MYSQL_REPLICA_PRIMARY_URL and MYSQL_REPLICA_URL',
  );
}

/** Runs scripts/mariadb-replica.sh with a subcommand (start, catch-up, set-delay S, kill, status, …). */
export async function mariadbReplicaScript(
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout } = await promisify(execFile)(SCRIPT, args, {
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  return stdout;
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { masked, noteUnavailable } from './skips.js';

/**
 * The primary and the streaming replica `scripts/replica.sh start` runs (recovery_min_apply_delay 500 ms by
 * default). The primary is the script's own (not the machine's PostgreSQL), so the replica replays only what
 * the reads tests write.
 */
export const REPLICA_PRIMARY_URL =
  process.env.REPLICA_PRIMARY_URL ?? 'postgres://postgres@127.0.0.1:5436/postgres';
export const REPLICA_URL = process.env.REPLICA_URL ?? 'postgres://postgres@127.0.0.1:5433/postgres';
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const SCRIPT = fileURLToPath(new URL('../../scripts/replica.sh', import.meta.url));

async function isStandby(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const r = await client.query('SELECT pg_is_in_recovery() AS standby');
    return r.rows[0]?.standby === true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export const replicaAvailable = await isStandby(REPLICA_URL);
// (A standby answering means its primary, which it streams from, is up too.)
if (!replicaAvailable && inCI) {
  // Under CI a missing replica is a failure, never a silent skip.
  throw new Error(`CI=true but no streaming replica answers at ${REPLICA_URL} (scripts/replica.sh start)`);
}
if (!replicaAvailable) {
  noteUnavailable(
    'streaming replica',
    `(the reads tests need one) not answering at ${masked(REPLICA_URL)}: scripts/replica.sh start`,
  );
}

/** A pool that survives its server being killed: idle clients erroring must not crash the test process. */
export function tolerantPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 2000 });
  pool.on('error', () => {});
  return pool;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface ReplicatedDatabase {
  readonly name: string;
  readonly primary: pg.Pool;
  readonly replica: pg.Pool;
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  close(): Promise<void>;
}

/**
 * A database of its own on the primary, waited for until the replica has it too (a replica copies the
 * whole cluster, so test files stay apart by database, not by server).
 */
export async function freshReplicated(replicaUrl = REPLICA_URL, poolSize = 20): Promise<ReplicatedDatabase> {
  const name = `tally_r_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: REPLICA_PRIMARY_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const primaryUrl = withDatabase(REPLICA_PRIMARY_URL, name);
  const rUrl = withDatabase(replicaUrl, name);
  const deadline = Date.now() + 30_000;
  while (!(await isStandby(rUrl))) {
    if (Date.now() > deadline) throw new Error(`database ${name} did not appear on the replica`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const primary = tolerantPool(primaryUrl, poolSize);
  const replica = tolerantPool(rUrl, poolSize);
  return {
    name,
    primary,
    replica,
    primaryUrl,
    replicaUrl: rUrl,
    async close() {
      await replica.end().catch(() => {});
      await primary.end();
      const a = new pg.Client({ connectionString: REPLICA_PRIMARY_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Waits until the replica has replayed everything the primary has written so far. */
export async function waitCaughtUp(primary: pg.Pool, replica: pg.Pool, timeoutMs = 30_000): Promise<void> {
  const target = (await primary.query('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await replica.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target]);
    if (r.rows[0]?.ok === true) return;
    if (Date.now() > deadline) throw new Error('replica did not catch up');
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Runs scripts/replica.sh with a subcommand (start, kill, restart, destroy, ...). */
export async function replicaScript(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)(SCRIPT, args, {
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  return stdout;
}

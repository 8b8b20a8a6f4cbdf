// The reads benchmark's PostgreSQL half: scripts/replica.sh's own primary and a replica on port 5435 that
// applies commits 200 ms late. A primary the script starts for this run is stopped again at the end.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ReadsBenchSetup } from './_reads-setup.js';

const PG_URL = process.env.REPLICA_PRIMARY_URL ?? 'postgres://postgres@127.0.0.1:5436/postgres';
const PORT = process.env.BENCH_REPLICA_PORT ?? '5435';
const DELAY = '200ms';
const DB = 'tally_bench_reads';
const SCRIPT = fileURLToPath(new URL('../scripts/replica.sh', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withDb = (url: string, db: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString();

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function replica(cmd: string): string {
  return execFileSync(SCRIPT, [cmd], {
    env: { ...process.env, REPLICA_PORT: PORT, REPLICA_APPLY_DELAY: DELAY },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  }).trim();
}

export async function postgresSetup(users: number): Promise<ReadsBenchSetup> {
  const primaryWasRunning = replica('primary-status') === 'running';
  replica('start');
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${DB}`);
  const primary = new pg.Pool({ connectionString: withDb(PG_URL, DB), max: 20 });
  const replicaPool = new pg.Pool({
    connectionString: `postgres://postgres@127.0.0.1:${PORT}/${DB}`,
    max: 20,
  });
  replicaPool.on('error', () => {});
  await primary.query('CREATE TABLE users (id int PRIMARY KEY, v bigint NOT NULL)');
  await primary.query('INSERT INTO users SELECT g, 0 FROM generate_series(1, $1::int) g', [users]);
  for (let i = 0; ; i++) {
    const ok = await replicaPool.query('SELECT count(*)::int AS n FROM users').then(
      (r) => r.rows[0].n === users,
      () => false,
    );
    if (ok) break;
    if (i > 300) throw new Error('the bench database did not reach the replica');
    await sleep(100);
  }
  return {
    dialect: 'postgres',
    delay: DELAY,
    primary,
    replica: replicaPool,
    update: (v, id) => ({ text: 'UPDATE users SET v = $1 WHERE id = $2', values: [v, id] }),
    select: (id) => ({ text: 'SELECT v FROM users WHERE id = $1', values: [id] }),
    async reset() {
      await primary.query('UPDATE users SET v = 0');
      await sleep(500); // let the replica replay the reset
    },
    async close() {
      await replicaPool.end();
      await primary.end();
      await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
      replica('destroy');
      if (!primaryWasRunning) replica('down');
    },
  };
}

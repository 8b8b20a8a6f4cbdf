// The reads benchmark's MariaDB half: scripts/mariadb-replica.sh's primary (3307) and its MASTER_DELAY
// replica (3308; MariaDB delays in whole seconds, so 1 s here against PostgreSQL's 200 ms). A pair the
// script starts for this run is stopped again at the end; one already running stays as it was.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPool } from 'mysql2/promise';
import type { ReadsBenchSetup } from './_reads-setup.js';

const PRIMARY_URL = process.env.MARIADB_REPLICA_PRIMARY_URL ?? 'mysql://root@127.0.0.1:3307/';
const REPLICA_URL = process.env.MARIADB_REPLICA_URL ?? 'mysql://root@127.0.0.1:3308/';
const SCRIPT = fileURLToPath(new URL('../scripts/mariadb-replica.sh', import.meta.url));
const DB = 'tally_bench_reads';

const script = (...args: string[]) =>
  execFileSync(SCRIPT, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' }).trim();
const withDb = (url: string) => Object.assign(new URL(url), { pathname: `/${DB}` }).toString();

export async function mariadbSetup(users: number): Promise<ReadsBenchSetup> {
  const wasRunning = script('status').startsWith('running');
  script('start');
  const admin = createPool({ uri: PRIMARY_URL, connectionLimit: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.query(`CREATE TABLE ${DB}.users (id INT PRIMARY KEY, v BIGINT NOT NULL)`);
  const ids = Array.from({ length: users }, (_, i) => i + 1);
  await admin.query(`INSERT INTO ${DB}.users (id, v) VALUES ${ids.map(() => '(?, 0)').join(',')}`, ids);
  const catchUp = () => void script('catch-up');
  catchUp();
  const primary = createPool({ uri: withDb(PRIMARY_URL), connectionLimit: 20 });
  const replica = createPool({ uri: withDb(REPLICA_URL), connectionLimit: 20 });
  const [[delay]] = (await replica.query('SHOW SLAVE STATUS')) as unknown as [Record<string, unknown>[]];
  return {
    dialect: 'mariadb',
    delay: `${Number(delay?.SQL_Delay)} s (MASTER_DELAY)`,
    primary,
    replica,
    update: (v, id) => ({ text: 'UPDATE users SET v = ? WHERE id = ?', values: [v, id] }),
    select: (id) => ({ text: 'SELECT v FROM users WHERE id = ?', values: [id] }),
    async reset() {
      await primary.query('UPDATE users SET v = 0');
      catchUp();
    },
    async close() {
      await replica.end();
      await primary.end();
      await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
      await admin.end();
      if (!wasRunning) script('down');
    },
  };
}

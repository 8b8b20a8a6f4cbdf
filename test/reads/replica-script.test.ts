import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_URL, postgresAvailable } from '../support/databases.js';
import { replicaAvailable, replicaScript } from '../support/replica.js';

// scripts/replica.sh starts a primary and a replica of its own in a temporary folder and stops them by
// their own pids: the machine's PostgreSQL (DATABASE_URL) keeps its configuration, its slots and its
// pg_hba rules. Ports of their own, so the shared replica (5433) and its primary (5436) are not disturbed.
const DIR = mkdtempSync(join(tmpdir(), 'tally-replica-script-'));
const ENV = { TALLY_PG_DIR: DIR, PRIMARY_PORT: '5437', REPLICA_PORT: '5438', REPLICA_APPLY_DELAY: '0' };
const sh = promisify(execFile);

async function machineServer(): Promise<string> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query(`SELECT
      (SELECT json_agg(json_build_array(line_number, type, database, user_name, address, auth_method)
         ORDER BY line_number) FROM pg_hba_file_rules)::text AS hba,
      (SELECT json_agg(json_build_array(name, setting) ORDER BY name) FROM pg_settings
         WHERE name IN ('wal_level', 'max_wal_senders', 'max_replication_slots', 'hba_file',
                        'listen_addresses', 'max_connections'))::text AS settings,
      (SELECT count(*) FROM pg_replication_slots)::int AS slots,
      pg_postmaster_start_time()::text AS started`);
    return JSON.stringify(r.rows[0]);
  } finally {
    await c.end();
  }
}

function pidOf(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The same gate as the other replica tests: under CI the shared replica is required (support/replica.ts
// throws when it is missing), and where it runs, PostgreSQL's server binaries are there too.
describe.skipIf(!replicaAvailable)('scripts/replica.sh keeps to servers of its own', () => {
  afterAll(async () => {
    await replicaScript(['purge'], ENV).catch(() => {});
    rmSync(DIR, { recursive: true, force: true });
  });

  it('starts its own primary and replica, stops both by pid, and leaves the machine server as it was', async () => {
    const before = postgresAvailable ? await machineServer() : '';

    await replicaScript(['start'], ENV);
    const primaryPid = pidOf(join(DIR, 'primary-5437'));
    const replicaPid = pidOf(join(DIR, 'replica-5438'));
    expect(alive(primaryPid) && alive(replicaPid)).toBe(true);

    // The replica streams from the script's primary: a table written there appears on it.
    const primary = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5437/postgres' });
    const replica = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5438/postgres' });
    await primary.connect();
    await replica.connect();
    try {
      const sender = await primary.query(
        "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'",
      );
      expect(sender.rows[0].n).toBe(1);
      await primary.query('CREATE TABLE marks (n int)');
      await primary.query('INSERT INTO marks VALUES (7)');
      let seen: number | undefined;
      for (let i = 0; i < 100 && seen === undefined; i++) {
        seen = await replica.query('SELECT n FROM marks').then(
          (r) => r.rows[0]?.n as number,
          () => undefined,
        );
        if (seen === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toBe(7);
    } finally {
      await primary.end();
      await replica.end();
    }

    expect((await replicaScript(['status'], ENV)).startsWith('running')).toBe(true);
    await replicaScript(['down'], ENV);
    expect(alive(primaryPid)).toBe(false);
    expect(alive(replicaPid)).toBe(false);
    expect((await replicaScript(['primary-status'], ENV)).trim()).toBe('stopped');
    // Data directories stay for a fast restart; purge (afterAll) removes them.
    expect(existsSync(join(DIR, 'primary-5437', 'PG_VERSION'))).toBe(true);

    if (postgresAvailable) expect(await machineServer()).toBe(before);
    // And nothing of the script's was written into the machine server's configuration files.
    const { stdout } = await sh('grep', ['-rl', 'tally scripts/replica.sh', '/etc/postgresql']).catch(() => ({
      stdout: '',
    }));
    expect(stdout.trim()).toBe('');
  }, 120_000);
});

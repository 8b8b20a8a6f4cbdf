import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_VERSION } from '../../src/schema/migrations.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { runCli } from './run-cli.js';

describe.skipIf(!postgresAvailable)('tally CLI on PostgreSQL', () => {
  let target: TestDatabase;
  let printed: TestDatabase;

  beforeAll(async () => {
    [target, printed] = await Promise.all([freshPostgres(2), freshPostgres(2)]);
  });
  afterAll(async () => {
    await Promise.all([target?.close(), printed?.close()]);
  });

  it('migrates through DATABASE_URL, and a second run through --database-url is a no-op', async () => {
    const first = await runCli(['migrate'], { env: { DATABASE_URL: target.url! } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`migrated schema tally in PostgreSQL postgres://.*: version 0 → ${LATEST_VERSION} `),
    );

    const second = await runCli(['migrate', '--database-url', target.url!], {
      env: { DATABASE_URL: undefined },
    });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`is up to date at version ${LATEST_VERSION}; nothing to apply`);
    const rows = await target.db.query({ text: 'SELECT version FROM tally.migrations ORDER BY version' });
    expect(rows.map((r) => Number(r.version))).toEqual(
      Array.from({ length: LATEST_VERSION }, (_, i) => i + 1),
    );
  });

  it("--print's SQL applies cleanly with psql, and Tally then finds nothing to do", async () => {
    const sql = await runCli(['migrate', '--print', '--schema', 'audit'], {
      env: { DATABASE_URL: undefined },
    });
    expect(sql.code).toBe(0);
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        'psql',
        ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', printed.url!],
        (err, _out, stderr) => (err ? reject(new Error(`psql failed: ${stderr}`)) : resolve()),
      );
      child.stdin!.end(sql.stdout);
    });
    const tables = await printed.db.query<{ t: string }>({
      text: `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'audit' ORDER BY 1`,
    });
    expect(tables.map((r) => r.t)).toEqual(
      expect.arrayContaining(['job_items', 'jobs', 'log', 'migrations']),
    );
    const [applied] = await printed.db.query<{ v: number }>({
      text: 'SELECT max(version)::int AS v FROM audit.migrations',
    });
    expect(applied?.v).toBe(LATEST_VERSION);

    const after = await runCli(['migrate', '--schema', 'audit', '--database-url', printed.url!]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('schema audit in PostgreSQL');
    expect(after.stdout).toContain(`up to date at version ${LATEST_VERSION}; nothing to apply`);
  });

  it('prints an entity log written through the library', async () => {
    const tally = await createTally({ db: target.db });
    await target.db.exec(
      `CREATE TABLE accounts (id text PRIMARY KEY, state text NOT NULL, level text, version int NOT NULL DEFAULT 0)`,
    );
    const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });
    await accounts.create({ rows: [{ id: 'acc-1', state: 'open', level: 'silver' }], actor: 'seed' });
    await accounts.update({ key: 'acc-1', set: { level: 'gold' }, actor: 'ops:alice', reason: 'promotion' });
    await accounts.transition({ key: 'acc-1', to: 'closed', actor: 'ops:bob' });

    const r = await runCli(['log', '--entity', 'account', '--key', 'acc-1'], {
      env: { DATABASE_URL: target.url! },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('account acc-1: 3 log entries, oldest first');
    expect(r.stdout).toContain('level: "silver" → "gold"');
    expect(r.stdout).toContain('state: "open" → "closed"');
    expect(r.stdout).toContain('chain: ok (versions 1..3 contiguous');
  });

  it('reports an unreachable server as a database error, exit 1, without the password', async () => {
    const r = await runCli(['migrate', '--database-url', 'postgres://u:secret@127.0.0.1:1/x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error DB_ERROR: .*ECONNREFUSED/);
    expect(r.stderr).not.toContain('secret');
  });
});

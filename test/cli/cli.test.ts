import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { LATEST_VERSION } from '../../src/schema/migrations.js';
import { createTally } from '../../src/tally.js';
import { chainAsLegacy } from '../changes/legacy-log.js';
import { type CliRun, runCliInProcess, runCli as runCliProcess, tempDir } from './run-cli.js';

// No DATABASE_URL for these runs: the embedded database is the default under test.
const NO_URL = { DATABASE_URL: undefined };

/**
 * `tally …` in this process (the entry the binary calls), with this process's environment less what `env`
 * unsets: a tsx start-up per run made this file the slowest CLI file. The first test runs the real binary.
 */
function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v === undefined) delete env[k];
  return runCliInProcess(args, env, options.cwd);
}

describe('tally help and usage errors', () => {
  it('prints the overview with exit 0, and usage errors exit 2', async () => {
    const help = await runCliProcess(['help'], { env: NO_URL });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('tally migrate [--print]');
    expect(help.stdout).toMatch(
      /Exit codes:\n {2}0 +ok.*\n {2}1 +an error.*\n {2}2 +a usage error.*\n {2}3 +drift/,
    );

    const none = await runCli([], { env: NO_URL });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage:');

    const unknown = await runCli(['frobnicate'], { env: NO_URL });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('usage error: unknown command "frobnicate"');

    const badOption = await runCli(['migrate', '--prnt'], { env: NO_URL });
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--prnt'");

    const missing = await runCli(['log', '--entity', 'resource'], { env: NO_URL });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--entity NAME and --key KEY are required');

    const both = await runCli(['migrate', '--data-dir', 'x', '--database-url', 'postgres://h/db'], {
      env: NO_URL,
    });
    expect(both.code).toBe(2);

    const commandHelp = await runCli(['log', '--help'], { env: NO_URL });
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toContain('Usage: tally log --entity NAME --key KEY');
  });

  it('reports a hostile schema name as a usage error, exit 2', async () => {
    const r = await runCli(['migrate', '--print', '--schema', 'x"; DROP TABLE users; --'], { env: NO_URL });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage error: tally migrate: --schema must match/);
    expect(r.stdout).toBe('');
  });
});

describe('tally migrate --print', () => {
  it('prints every table of the schema without touching a database', async () => {
    const cwd = tempDir();
    const r = await runCli(['migrate', '--print', '--schema', 'audit'], { cwd, env: NO_URL });
    expect(r.code).toBe(0);
    for (const table of ['migrations', 'log', 'jobs', 'job_items']) {
      expect(r.stdout).toMatch(new RegExp(`CREATE TABLE (IF NOT EXISTS )?"audit"\\.${table} \\(`));
    }
    for (let v = 1; v <= LATEST_VERSION; v++) {
      expect(r.stdout).toContain(`INSERT INTO "audit".migrations (version, name) VALUES (${v},`);
    }
    expect(r.stdout).not.toContain('"tally"');
    expect(existsSync(join(cwd, '.tally-data'))).toBe(false);
    rmSync(cwd, { recursive: true, force: true });
  });
});

describe('tally migrate and tally log on PGlite', () => {
  const cwd = tempDir();

  it('migrates ./.tally-data, and a second run is a no-op', async () => {
    const first = await runCli(['migrate'], { cwd, env: NO_URL });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `migrated schema tally in PGlite ./.tally-data: version 0 → ${LATEST_VERSION}`,
    );

    const second = await runCli(['migrate'], { cwd, env: NO_URL });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`is up to date at version ${LATEST_VERSION}; nothing to apply`);
  });

  it('migrates a named schema in a named data directory', async () => {
    const r = await runCli(['migrate', '--schema', 'audit', '--data-dir', 'other'], { cwd, env: NO_URL });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`migrated schema audit in PGlite other: version 0 → ${LATEST_VERSION}`);
  });

  it('refuses to read the log of a database that does not exist', async () => {
    const r = await runCli(['log', '--entity', 'resource', '--key', '1', '--data-dir', 'nowhere'], {
      cwd,
      env: NO_URL,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error NO_DATABASE: no PGlite database at nowhere');
    expect(existsSync(join(cwd, 'nowhere'))).toBe(false);
  });

  describe('log', () => {
    const dir = join(cwd, 'logdb');

    beforeAll(async () => {
      const db = await pglite(dir);
      const tally = await createTally({ db });
      await tally.migrate();
      await db.exec(
        `CREATE TABLE resources (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0)`,
      );
      const resources = tally.entity('resource', {
        table: 'resources',
        states: { active: ['frozen'], frozen: ['active'] },
      });
      await resources.create({
        rows: [
          { id: 1, state: 'active' },
          { id: 2, state: 'active' },
        ],
        actor: 'seed',
      });
      await resources.transition({
        keys: [1, 2],
        to: 'frozen',
        actor: 'ops:alice',
        ip: '10.0.0.5',
        reason: 'abuse',
      });
      await resources.transition({ key: 1, to: 'active', actor: 'ops:bob', requestId: 'req-9' });
      await db.close();
    });

    it('prints the entries oldest first and a sound chain', async () => {
      const r = await runCli(['log', '--entity', 'resource', '--key', '1', '--data-dir', dir], {
        env: NO_URL,
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toBe('resource 1: 3 log entries, oldest first');
      expect(r.stdout).toMatch(/v1 {2}\S+ {2}create {2}by seed/);
      expect(r.stdout).toMatch(/v2 {2}\S+ {2}transition {2}by ops:alice {2}\(ip 10\.0\.0\.5\)/);
      expect(r.stdout).toContain('state: "active" → "frozen"');
      expect(r.stdout).toContain('reason: abuse');
      expect(r.stdout).toMatch(/v3 .* by ops:bob {2}\(request req-9\)/);
      expect(r.stdout).toContain('chain: ok (versions 1..3 contiguous');
    });

    it('prints one JSON document with --json', async () => {
      const r = await runCli(['log', '--entity', 'resource', '--key', '2', '--json', '--data-dir', dir], {
        env: NO_URL,
      });
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({
        schema: 'tally',
        entity: 'resource',
        key: '2',
        chain: { ok: true, problems: [] },
      });
      expect(doc.entries.map((e: { version: number; action: string }) => [e.version, e.action])).toEqual([
        [1, 'create'],
        [2, 'transition'],
      ]);
      expect(doc.entries[1]).toMatchObject({
        actor: 'ops:alice',
        before: { state: 'active' },
        after: { state: 'frozen' },
      });
      // No per-entity hash chain on entries written since migration 10 (decision 0065).
      expect([doc.entries[0].hash, doc.entries[1].prev_hash, doc.entries[1].hash]).toEqual([
        null,
        null,
        null,
      ]);
    });

    it('says so when an entity has no entries, and when the schema is not migrated', async () => {
      const none = await runCli(['log', '--entity', 'resource', '--key', '99', '--data-dir', dir], {
        env: NO_URL,
      });
      expect(none.code).toBe(0);
      expect(none.stdout).toContain('resource 99: no log entries');

      const wrong = await runCli(
        ['log', '--entity', 'resource', '--key', '1', '--schema', 'nope', '--data-dir', dir],
        {
          env: NO_URL,
        },
      );
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('error SCHEMA_NOT_MIGRATED: schema nope in PGlite');
    });

    it('detects an edited entry and a removed one, exit 1', async () => {
      let db = await pglite(dir);
      // An unchained entry: an edited before image no longer joins the previous after image.
      await db.exec(
        `UPDATE tally.log SET before = before || '{"state": "retired"}' WHERE entity_key = '2' AND version = 2`,
      );
      await db.close();
      const image = await runCli(['log', '--entity', 'resource', '--key', '2', '--json', '--data-dir', dir], {
        env: NO_URL,
      });
      expect(image.code).toBe(1);
      expect(JSON.parse(image.stdout).chain.problems).toEqual([
        "version 2: before image differs from the previous entry's after image",
      ]);
      db = await pglite(dir);
      await db.exec(
        `UPDATE tally.log SET before = before || '{"state": "active"}' WHERE entity_key = '2' AND version = 2`,
      );
      // The log as a Tally before migration 10 wrote it (hash-chained), so an edit breaks a hash.
      await chainAsLegacy(db, 'tally', 'resource');
      await db.exec(`UPDATE tally.log SET reason = 'nothing to see' WHERE entity_key = '1' AND version = 2`);
      await db.exec(`DELETE FROM tally.log WHERE entity_key = '2' AND version = 1`);
      await db.close();

      const edited = await runCli(['log', '--entity', 'resource', '--key', '1', '--data-dir', dir], {
        env: NO_URL,
      });
      expect(edited.code).toBe(1);
      expect(edited.stdout).toContain('chain: BROKEN');
      expect(edited.stdout).toContain('version 2: hash does not match the entry (edited)');
      expect(edited.stderr).toMatch(/^error LOG_CHAIN_BROKEN: resource 1: 1 problem/);

      const removed = await runCli(
        ['log', '--entity', 'resource', '--key', '2', '--json', '--data-dir', dir],
        {
          env: NO_URL,
        },
      );
      expect(removed.code).toBe(1);
      const doc = JSON.parse(removed.stdout);
      expect(doc.chain.ok).toBe(false);
      expect(doc.chain.problems).toEqual([
        'version 2 does not follow the previous entry (a row is missing)',
        "version 2: prev_hash does not link to the previous entry's hash",
      ]);
    });
  });

  afterAll(() => rmSync(cwd, { recursive: true, force: true }));
});

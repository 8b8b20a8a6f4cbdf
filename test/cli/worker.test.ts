import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { ROOT, runCliInProcess, tempDir } from './run-cli.js';
import { pendingCommands, writeSetupModule } from './support/setup-module.js';

// The usage errors and `--once` run in this process, through the entry the binary calls, with no
// DATABASE_URL in their environment (a tsx start-up each made this file one of the slowest); the SIGTERM
// test below runs the real process, since the signal is what it is about.
const cli = (args: string[], cwd?: string) => runCliInProcess(args, {}, cwd);

describe('tally worker: usage and module errors', () => {
  it('needs --module (exit 2); a missing or exportless module is an error (exit 1)', async () => {
    const dir = tempDir();
    const noModule = await cli(['worker', '--data-dir', dir]);
    expect(noModule.code).toBe(2);
    expect(noModule.stderr).toContain('--module PATH is required');
    const badInt = await cli(['worker', '--module', 'x.mjs', '--concurrency', 'many']);
    expect(badInt.code).toBe(2);
    expect(badInt.stderr).toContain('--concurrency must be an integer');

    const db = await pglite(join(dir, 'data'));
    const { createTally } = await import('../../src/tally.js');
    await (await createTally({ db })).migrate();
    await db.close();
    const missing = await cli(['worker', '--module', 'nope.mjs', '--data-dir', join(dir, 'data')], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error MODULE_NOT_FOUND: no module at nope.mjs\n');
    writeSetupModule(dir, 'empty.mjs');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'empty.mjs'), 'export const x = 1;\n');
    const invalid = await cli(['worker', '--module', 'empty.mjs', '--data-dir', join(dir, 'data')], dir);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('error MODULE_INVALID: empty.mjs must export a function');
  });
});

describe('tally worker on an embedded PGlite data dir', () => {
  it('--once drives every due command to its end, then exits 0', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const db = await pglite(data);
    const { ids } = await pendingCommands(db, 3);
    await db.close();
    writeSetupModule(dir);
    const r = await cli(
      ['worker', '--module', './setup.mjs', '--once', '--data-dir', data, '--id', 'cli-w'],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('worker cli-w on PGlite');
    expect(r.stdout).toContain('commands cli_redeem');
    expect(r.stdout).toContain('round: claimed 3; succeeded 3');
    expect(r.stdout).toContain('worker cli-w: stopped; claimed 3, finished 3, errors 0');
    const check = await pglite(data);
    try {
      const rows = await check.query<{ status: string }>({
        text: 'SELECT status FROM tally.commands WHERE id = ANY($1::uuid[])',
        values: [ids],
      });
      expect(rows.map((x) => x.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      const [p] = await check.query<{ points: number }>({
        text: "SELECT points FROM cli_accounts WHERE id = 'u1'",
      });
      expect(Number(p!.points)).toBe(1000 - 30); // deducted once per command, not again by the worker
    } finally {
      await check.close();
    }
  });
});

describe.skipIf(!postgresAvailable)('tally worker on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(3);
  });
  afterAll(() => t?.close());

  it('runs until SIGTERM through DATABASE_URL, finishing due commands; exits 0', async () => {
    const { ids } = await pendingCommands(t.db, 4);
    const dir = tempDir();
    writeSetupModule(dir);
    // node with tsx's loader, not the tsx binary: the binary relays SIGTERM to its child and SIGKILLs it
    // (exit 143) when the child does not confirm within 30 ms, which a loaded machine can miss.
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
        join(ROOT, 'src/cli/main.ts'),
        'worker',
        '--module',
        'setup.mjs',
        '--poll-ms',
        '50',
      ],
      {
        cwd: dir,
        env: { ...process.env, DATABASE_URL: t.url! },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [r] = await t.db.query<{ n: number }>({
        text: `SELECT count(*)::int AS n FROM tally.commands WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`,
        values: [ids],
      });
      if (Number(r!.n) === ids.length) break;
      if (Date.now() > deadline) throw new Error(`worker did not finish: ${out} ${err}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const code = await new Promise<number | null>((done) => {
      child.on('exit', (c) => done(c));
      child.kill('SIGTERM');
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('worker: stopping after the round in progress');
    expect(out).toMatch(/stopped; claimed 4, finished 4, errors 0/);
    const [p] = await t.db.query<{ points: number }>({
      text: "SELECT points FROM cli_accounts WHERE id = 'u1'",
    });
    expect(Number(p!.points)).toBe(1000 - 40);
  });
});

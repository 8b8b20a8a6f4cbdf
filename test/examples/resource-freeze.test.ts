import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd: ROOT, env, timeout: 180_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `npm run example:freeze` (the README's command for this example), with the given DATABASE_URL (or none). */
function npmStart(databaseUrl: string | undefined): Promise<Run> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return sh('npm', ['run', 'example:freeze', '--silent'], env);
}

function expectFullRun(r: Run): void {
  if (r.code !== 0) console.error(r.stdout, r.stderr);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(
    'ILLEGAL_TRANSITION (resource 1 cannot go from frozen to retired), nothing changed',
  );
  expect(r.stdout).toContain('atomic: retire [6, 7, 1] -> BATCH_REJECTED, nothing changed');
  expect(r.stdout).toContain('partial: retire [6, 7, 1] -> changed [6, 7]; rejected 1 (illegal_transition)');
  expect(r.stdout).toContain('-> rolled back');
  expect(r.stdout).toContain('verify: 8/8 ok');
  expect(r.stdout).toMatch(
    /consumer check: OK \(applied each of 22 log rows once; its view of 8 resources equals/,
  );
}

// The example imports 'tally', which resolves through package.json exports to dist/: build it when it is
// missing or older than src/ (scripts/ensure-built.mjs, one build at a time under the lock the other example
// tests take). Not an unconditional `npm run build`: CI builds dist/ just before the tests, and a second
// build rewrites dist/ while the other files. CLI and example runs read it.
beforeAll(async () => {
  const build = await sh(process.execPath, ['scripts/ensure-built.mjs'], process.env);
  if (build.code !== 0) throw new Error(`scripts/ensure-built.mjs failed:\n${build.stdout}${build.stderr}`);
});

describe('examples/resource-freeze', () => {
  it('runs end to end on embedded PGlite, twice in a row', async () => {
    expectFullRun(await npmStart(undefined));
    const again = await npmStart(undefined);
    expectFullRun(again);
    expect(again.stdout).toContain('database: PGlite in memory');
  });

  describe.skipIf(!postgresAvailable)('with DATABASE_URL', () => {
    let pg: TestDatabase;
    beforeAll(async () => {
      pg = await freshPostgres(1);
    });
    afterAll(() => pg?.close());

    it('runs end to end on PostgreSQL, and re-running starts fresh', async () => {
      const first = await npmStart(pg.url!);
      expectFullRun(first);
      expect(first.stdout).toContain('database: PostgreSQL postgres://');
      expectFullRun(await npmStart(pg.url!));
    });
  });
});

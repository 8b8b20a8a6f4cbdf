// The run ends with one line saying what was skipped for a missing server and why; under CI=true the same
// missing server fails the run. Real runs of vitest on a real suite, with the server pointed at a dead port.
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs');
const DEAD_REDIS = 'redis://127.0.0.1:1';

function vitest(files: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete e.VITEST; // a run of its own, not a worker of this one
  delete e.VITEST_WORKER_ID;
  delete e.VITEST_POOL_ID;
  if (!('CI' in env)) delete e.CI;
  return new Promise((done) => {
    execFile(
      process.execPath,
      [VITEST, 'run', ...files, '--maxWorkers', '1'],
      { cwd: ROOT, env: e, timeout: 240_000 },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

it('names the missing server, where it was tried and how many tests it cost, on the last line', async () => {
  const r = await vitest(['test/reads/cache.test.ts'], { REDIS_URL: DEAD_REDIS });
  expect(r.code).toBe(0);
  const last = r.out.trim().split('\n').at(-1)!;
  expect(last).toMatch(
    /^Skipped (\d+) of the tests: Redis not reachable at redis:\/\/127\.0\.0\.1:1 — \1 tests skipped; run \.ci\/run for the full suite$/,
  );
}, 300_000);

it('under CI=true the same missing server fails the run instead', async () => {
  const r = await vitest(['test/reads/cache.test.ts'], { REDIS_URL: DEAD_REDIS, CI: 'true' });
  expect(r.code).not.toBe(0);
  expect(r.out).toContain(`CI=true but Redis is not reachable at ${DEAD_REDIS}`);
  expect(r.out).not.toContain('Skipped ');
}, 300_000);

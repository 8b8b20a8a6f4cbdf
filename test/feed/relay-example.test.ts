// `npm run example:nats-mirror` (the example README's command) on PGlite and on PostgreSQL, with NATS.
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable } from '../support/databases.js';
import { natsAvailable } from './support/nats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function example(databaseUrl: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return new Promise((done) => {
    execFile(
      'npm',
      ['run', 'example:nats-mirror', '--silent'],
      { cwd: ROOT, env, timeout: 120_000 },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function expectMirrored(r: { code: number; stdout: string; stderr: string }): void {
  if (r.code !== 0) console.error(r.stdout, r.stderr);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('mirror learned resource/2: transition by ops:bob -> active (version 3');
  expect(r.stdout).toContain('resumed: applied 3 new entries; nothing from before was delivered again');
  expect(r.stdout).toContain('relay: published 14 log entries (duplicates dropped 0); stream holds 14');
  expect(r.stdout).toContain('mirror check: OK (6/6 resources equal the table)');
}

describe.skipIf(!natsAvailable)('example: nats-mirror', () => {
  it('mirrors every resource from NATS on PGlite', async () => {
    expectMirrored(await example(undefined));
  });

  it.skipIf(!postgresAvailable)('mirrors every resource from NATS on PostgreSQL', async () => {
    const t = await freshPostgres(1);
    try {
      expectMirrored(await example(t.url!));
    } finally {
      await t.close();
    }
  });
});

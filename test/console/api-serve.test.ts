import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/schema/migrate.js';
import { runCli, tempDir } from '../cli/run-cli.js';
import { freshPostgres, postgresAvailable } from '../support/databases.js';
import { call, seedCommands } from './support.js';

// `tally serve` as a user starts it: a real process, through the same entry as the binary.
const ROOT = join(import.meta.dirname, '../..');
const NO_URL = { DATABASE_URL: undefined };
const running: ChildProcess[] = [];

afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts `tally serve ...args` and resolves with its URL once it says where it listens. */
function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ url: string; child: ChildProcess; out: () => string }> {
  const full = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k];
  const child = spawn(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'src/cli/main.ts'), 'serve', ...args],
    {
      cwd: ROOT,
      env: full,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.push(child);
  let out = '';
  return new Promise((done, fail) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /console on (http:\/\/\S+)/.exec(out);
      if (m) done({ url: m[1]!, child, out: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => fail(new Error(`tally serve exited ${code}: ${out}`)));
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done(child.exitCode);
    child.once('exit', (code) => done(code));
    child.kill('SIGTERM');
  });
}

describe('tally serve', () => {
  it('on a new embedded directory: 127.0.0.1 only, GET / is HTML, /metrics has tally_ series, /api JSON; SIGTERM stops it', async () => {
    const data = join(tempDir(), 'data');
    const s = await serve(['--port', '0', data], NO_URL);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await call(s.url, '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toMatch(/<html/i);
    const metrics = await call(s.url, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# TYPE tally_\w+/m);
    const o = await call(s.url, '/api/overview');
    expect(o.status).toBe(200);
    expect(o.headers.get('content-type')).toContain('application/json');
    expect(o.body.commands.byStatus).toEqual({
      pending: 0,
      compensating: 0,
      succeeded: 0,
      failed: 0,
      needs_attention: 0,
    });
    // While it holds the directory, the other commands reach it through its socket.
    const inspect = await runCli(['inspect', 'no-such-key', data], { env: NO_URL });
    expect(inspect.stderr).toContain('COMMAND_NOT_FOUND');
    expect(await stopped(s.child)).toBe(0);
    expect(s.out()).toContain('serve: stopped');
  }, 120_000);

  it('--host 0.0.0.0 without a token refuses to start, saying why; with one it needs the token', async () => {
    const data = join(tempDir(), 'data');
    const r = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', data], {
      env: { ...NO_URL, TALLY_READ_TOKEN: undefined, TALLY_OPERATOR_TOKEN: undefined },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INVALID_CONFIG');
    expect(r.stderr).toContain('refusing to listen on 0.0.0.0 without a token');
    const token = 'operator-0123456789abcdef';
    const s = await serve(['--host', '0.0.0.0', '--port', '0', data], {
      ...NO_URL,
      TALLY_OPERATOR_TOKEN: token,
    });
    const port = new URL(s.url).port;
    const base = `http://127.0.0.1:${port}`;
    expect((await call(base, '/api/commands')).status).toBe(401);
    expect((await call(base, '/metrics')).status).toBe(401);
    const ok = await call(base, '/api/commands', { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await stopped(s.child)).toBe(0);
  }, 120_000);

  it.skipIf(!postgresAvailable)(
    'on PostgreSQL [postgres]',
    async () => {
      const t = await freshPostgres(2);
      try {
        await migrate(t.db, 'tally', '"tally"');
        await seedCommands(t.db, {
          n: 3,
          from: new Date('2026-12-01T00:00:00Z'),
          types: ['redeem'],
          principals: ['u1'],
          statuses: ['succeeded', 'needs_attention'],
          keyPrefix: 'k',
        });
        const s = await serve(['--port', '0', '--database-url', t.url!]);
        const list = await call(s.url, '/api/commands?status=needs_attention');
        expect(list.body.items.map((c: { key: string }) => c.key)).toEqual(['k-1']);
        const m = await call(s.url, '/metrics');
        expect(m.text).toMatch(/^tally_commands_needs_attention\{type="redeem"\} 1$/m);
        expect(await stopped(s.child)).toBe(0);
      } finally {
        await t.close();
      }
    },
    120_000,
  );
});

// `npm start` (the README's run command): starts A, B (on embedded PGlite) and C, prints the page's address;
// the page is served and a redemption through it takes effect.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { ensureBuilt, http } from './support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    process.kill(-child.pid, 'SIGTERM'); // the launcher's process group: npm, the launcher, A, B, C
    await exited;
  }
});

it('npm start runs the chain on embedded PGlite and prints the page address', async () => {
  await ensureBuilt();
  const env = { ...process.env };
  delete env.DATABASE_URL;
  child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const page = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no page address within 90 s:\n${out}`)), 90_000);
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Open the page:\s+(http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1]!);
      }
    });
    child!.once('exit', (code) => fail(new Error(`npm start exited (${code}):\n${out}`)));
  });
  expect(out).toMatch(/B points service: http:\/\/\S+ \(PGlite in /);
  const html = await http('GET', page);
  expect(html.status).toBe(200);
  expect(html.raw).toContain('crypto.randomUUID()'); // the key is made at the head, in the page
  const before = await http('GET', `${page}/api/points/alice`);
  expect(before.body).toEqual({ user: 'alice', points: 100 });
  const key = `start-${Date.now()}`;
  const body = { user: 'alice', prize: 'mug', qty: 2 };
  const r = await http('POST', `${page}/api/redeem`, body, { 'idempotency-key': key });
  expect(r.body).toMatchObject({ status: 200, body: { status: 'succeeded', result: { deducted: 20 } } });
  const again = await http('POST', `${page}/api/redeem`, body, { 'idempotency-key': key });
  expect(again.body.body).toEqual(r.body.body);
  expect((await http('GET', `${page}/api/points/alice`)).body.points).toBe(80);
});

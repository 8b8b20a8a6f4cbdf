import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { tempDir } from '../cli/run-cli.js';
import { resourcesFixture } from '../support/resources.js';
import { sleep } from './browser-setup.js';
import { actionHeaders, call } from './support.js';

// `tally serve --module PATH` (decision 0148): the console gets the app's declarations, so the actions that
// need an entity work under `tally serve` — resume a job, apply a repair — as a real process started the
// way a user starts it. Without --module both are refused (501 / 422), which is what this fixes.
const ROOT = join(import.meta.dirname, '../..');
const running: ChildProcess[] = [];

afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function serve(args: string[]): Promise<{ url: string; child: ChildProcess; out: () => string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const child = spawn(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'src/cli/main.ts'), 'serve', ...args],
    {
      cwd: ROOT,
      env,
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

const MODULE = `// The app's setup, as tally worker takes it.
export default function setup(tally) {
  tally.entity('resource', {
    table: 'sm_resources',
    states: { active: ['frozen'], frozen: ['active', 'retired'], retired: [] },
  });
}
export const downstreams = [
  { name: 'ledger', types: ['transfer'], source: { lookup: async () => [] } },
];
`;

it('tally serve --module: resume a job and apply a repair from the console (refused without it)', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  const setup = join(dir, 'tally.setup.mjs');
  writeFileSync(setup, MODULE);

  // A job whose runner stopped after one chunk, and a row changed around Tally.
  const db = await pglite(data);
  const { tally, resources } = await resourcesFixture(db, 31, 'sm_resources');
  const job = await resources.job({
    keys: Array.from({ length: 30 }, (_, i) => i + 1),
    to: 'frozen',
    actor: 'ops:bo',
    chunkSize: 10,
  });
  expect(await tally.jobs.run(job.id, { maxChunks: 1 })).toMatchObject({ status: 'running', pending: 20 });
  await resources.transition({ key: 31, to: 'frozen', actor: 'ops:bo' });
  await db.exec(`UPDATE sm_resources SET owner = 'hand-fixed' WHERE id = 31`);
  await db.close();

  const resume = (url: string) =>
    call(url, '/api/actions/resume-job', {
      method: 'POST',
      headers: actionHeaders(),
      body: { jobId: job.id, actor: 'ops:ana', reason: 'runner OOM-killed' },
    });
  const repair = (url: string) =>
    call(url, '/api/actions/repair', {
      method: 'POST',
      headers: actionHeaders(),
      body: { entity: 'resource', actor: 'ops:ana', reason: 'INC-3: a hand fix bypassed the log' },
    });

  // Without the declarations: refused, nothing done.
  const bare = await serve(['--port', '0', data]);
  expect((await resume(bare.url)).body.code).toBe('ACTION_NOT_AVAILABLE');
  expect((await repair(bare.url)).body.code).toBe('ENTITY_NOT_DECLARED');
  expect(await stopped(bare.child)).toBe(0);

  const s = await serve(['--port', '0', '--module', setup, data]);
  expect(s.out()).toContain(`serve: ${setup} declared 1 entity, 0 commands, 1 downstream`);
  const resumed = await resume(s.url);
  expect(resumed.status, resumed.text).toBe(200);
  expect(resumed.body).toMatchObject({ action: 'resume-job', applied: true, result: { id: job.id } });
  // The rest of the job runs on in the server; its page shows it done.
  let status = '';
  for (let i = 0; i < 100 && status !== 'done'; i++) {
    status = (await call(s.url, `/api/jobs/${job.id}`)).body.job.status;
    if (status !== 'done') await sleep(100);
  }
  expect(status).toBe('done');

  const repaired = await repair(s.url);
  expect(repaired.status, repaired.text).toBe(200);
  expect(repaired.body.result).toMatchObject({ entity: 'resource', repaired: 1, keys: ['31'] });
  const check = await call(s.url, '/api/reconcile/state-log', {
    method: 'POST',
    headers: actionHeaders(),
    body: { entity: 'resource', dryRun: true },
  });
  expect(check.body).toMatchObject({ ok: true, total: 0 });
  // The module's downstreams are the Reconcile view's.
  expect((await call(s.url, '/api/reconcile/downstreams')).body).toEqual({
    items: [{ name: 'ledger', types: ['transfer'], step: null, source: 'lookup' }],
  });
  expect(await stopped(s.child)).toBe(0);

  const after = await pglite(data);
  try {
    const rows = await after.query<{ action: string; target: string; actor: string }>({
      text: `SELECT action, target, actor FROM tally.operator_actions ORDER BY id`,
      values: [],
    });
    expect(rows.map((r) => [r.action, r.target, r.actor])).toEqual([
      ['resume_job', job.id, 'ops:ana'],
      ['repair', 'resource', 'ops:ana'],
    ]);
  } finally {
    await after.close();
  }
}, 180_000);

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { runCliInProcess, tempDir } from './run-cli.js';

// An operator at 3 a.m.: which downstream is down, which commands are stranded, and freeing them.
// The commands run in this process through the entry the binary calls, with no DATABASE_URL in their
// environment (a tsx start-up each made this file slow; test/cli/cli.test.ts runs the real binary).
const runCli = (args: string[]) => runCliInProcess(args, {});
const dir = tempDir();
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('tally downstreams shows an open breaker; tally requeue frees stranded commands with who and why', async () => {
  let db = await pglite(data);
  const fx = await redeemFixture(db, 'cq', { maxAttempts: 1, breaker: { after: 1 } });
  fx.prizes.faults.down = true;
  const key = fx.nextKey();
  const r = await fx.redeem.submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 1 } });
  expect(r.status).toBe('needs_attention');
  await fx.tally.close();
  await db.close();

  const shown = await runCli(['downstreams', '--data-dir', data]);
  expect(shown.stderr).toBe('');
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(
    /^cq\.prizes: open since .*; 1 connection failure, next probe .*; 0 paused commands; last error TypeError \(ECONNREFUSED\)$/m,
  );
  const json = JSON.parse((await runCli(['downstreams', '--json', data])).stdout);
  expect(json).toMatchObject([{ name: 'cq.prizes', state: 'open', failures: 1 }]);

  const noActor = await runCli(['requeue', '--type', 'cq_redeem', '--data-dir', data]);
  expect(noActor.code).toBe(2);
  expect(noActor.stderr).toContain('--actor WHO and --reason WHY are required');
  const noModule = await runCli([
    'requeue',
    '--downstream',
    'cq.prizes',
    '--actor',
    'ops',
    '--reason',
    'x',
    data,
  ]);
  expect(noModule.code).toBe(2);
  expect(noModule.stderr).toContain('--downstream needs --module');
  const badTime = await runCli(['requeue', '--since', 'yesterday', '--actor', 'ops', '--reason', 'x', data]);
  expect(badTime.code).toBe(2);

  const by = ['--actor', 'ops:alice', '--reason', 'prize platform is back'];
  const dry = await runCli(['requeue', '--type', 'cq_redeem', ...by, '--dry-run', data]);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`cq_redeem u1 ${key} received`);
  expect(dry.stdout).toContain('1 command would be requeued (dry run: nothing changed)');
  const done = await runCli(['requeue', '--type', 'cq_redeem', ...by, data]);
  expect(done.code).toBe(0);
  expect(done.stdout).toContain('-> pending');
  expect(done.stdout).toContain('1 command requeued by ops:alice');

  db = await pglite(data);
  try {
    const [row] = await db.query<{ status: string; attempts: number }>({
      text: `SELECT status, attempts FROM tally.commands WHERE key = $1`,
      values: [key],
    });
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    const [ev] = await db.query<{ data: unknown }>({
      text: `SELECT e.data FROM tally.command_events e JOIN tally.commands c ON c.id = e.command_id
              WHERE c.key = $1 AND e.kind = 'requeued'`,
      values: [key],
    });
    expect(ev?.data).toEqual({ actor: 'ops:alice', reason: 'prize platform is back', to: 'pending' });
  } finally {
    await db.close();
  }
}, 300_000); // the CLI runs open PGlite, seconds each on a loaded machine

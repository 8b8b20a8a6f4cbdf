import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { createTally } from '../../src/tally.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { RESOURCE_STATES } from '../support/resources.js';
import { runCliInProcess, tempDir } from './run-cli.js';

const dir = tempDir();
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const by = ['--actor', 'ops:ana', '--reason', 'C is back, ticket 81'];

it('tally retry, tally jobs resume, tally alerts deliveries and tally actions: the library actions from the shell', async () => {
  const db = await pglite(data);
  const fx = await redeemFixture(db, 'cx', { maxAttempts: 5 });
  fx.prizes.faults.down = true; // backing off after its first attempt
  const r = await fx.redeem.submit({
    key: fx.nextKey(),
    principal: 'u1',
    input: { user: 'u1', prize: 'mug', qty: 1 },
  });
  expect(r.status).toBe('pending');
  // A job whose runner stopped after its first chunk.
  await db.exec(`CREATE TABLE cx_items (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0);
                 INSERT INTO cx_items SELECT g, 'active' FROM generate_series(1, 20) g;`);
  const items = fx.tally.entity('cx_item', { table: 'cx_items', states: RESOURCE_STATES });
  const job = await items.job({
    keys: Array.from({ length: 20 }, (_, i) => i + 1),
    to: 'frozen',
    actor: 'seed',
    chunkSize: 5,
  });
  await fx.tally.jobs.run(job.id, { maxChunks: 1 });
  // An alert raised by hand (no delivery configured here: it stays pending in the outbox).
  await db.exec(
    `INSERT INTO tally.command_alerts (command_type, kind, message, at) VALUES ('cx_redeem', 'test', 'm', now())`,
  );
  await fx.tally.close();
  await db.close();

  const usage = await runCliInProcess(['retry', r.id, '--actor', 'ops', data]);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('COMMAND, --actor WHO and --reason WHY are required');
  const retried = await runCliInProcess(['retry', r.id, ...by, data]);
  expect(retried.stderr).toBe('');
  expect(retried.code).toBe(0);
  expect(retried.stdout).toContain(`command ${r.id} (cx_redeem, pending) is due now`);

  const module = join(dir, 'setup.mjs');
  writeFileSync(
    module,
    `export default function setup(tally) {
       tally.entity('cx_item', { table: 'cx_items', states: ${JSON.stringify(RESOURCE_STATES)} });
     }\n`,
  );
  const shown = await runCliInProcess(['jobs', job.id, data]);
  expect(shown.stdout).toContain(`job ${job.id} (cx_item): running, 5/20 done`);
  const resumed = await runCliInProcess(['jobs', 'resume', job.id, ...by, '--module', module, data]);
  expect(resumed.stderr).toBe('');
  expect(resumed.stdout).toContain(`job ${job.id} (cx_item): done, 20/20 done (changed 20`);
  const again = await runCliInProcess(['jobs', 'resume', job.id, ...by, '--module', module, data]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('ACTION_NOT_APPLICABLE');

  const deliveries = await runCliInProcess(['alerts', 'deliveries', '--pending', '--json', data]);
  expect(deliveries.code).toBe(0);
  expect(JSON.parse(deliveries.stdout)).toMatchObject([{ status: 'pending', attempts: 0, acked: [] }]);

  const listed = await runCliInProcess(['actions', '--json', data]);
  expect(
    (JSON.parse(listed.stdout) as { action: string; target: string; actor: string }[]).map((a) => [
      a.action,
      a.target,
      a.actor,
    ]),
  ).toEqual([
    ['resume_job', job.id, 'ops:ana'],
    ['retry_now', r.id, 'ops:ana'],
  ]);
  const text = await runCliInProcess(['actions', '--target', r.id, data]);
  expect(text.stdout).toMatch(/retry_now {2}\S+ {2}by ops:ana: C is back, ticket 81/);

  // A command that finished cannot be retried: refused, nothing recorded.
  const db2 = await pglite(data);
  const t2 = await createTally({ db: db2 });
  await db2.query({ text: `UPDATE tally.commands SET status = 'succeeded' WHERE id = $1`, values: [r.id] });
  await t2.close();
  await db2.close();
  const refused = await runCliInProcess(['retry', r.id, ...by, data]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('ACTION_NOT_APPLICABLE');
  expect(refused.stderr).toContain('the command has succeeded');
});

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { runCliInProcess, tempDir } from './run-cli.js';

const dir = tempDir();
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('tally alerts lists alerts; tally alerts resolve records who and why, once; bad input is refused', async () => {
  const db = await pglite(data);
  const fx = await redeemFixture(db, 'ca', { maxAttempts: 1 });
  fx.prizes.faults.down = true; // the worker gives up at once: needs_attention, with an alert
  const r = await fx.redeem.submit({
    key: fx.nextKey(),
    principal: 'u1',
    input: { user: 'u1', prize: 'mug', qty: 1 },
  });
  expect(r.status).toBe('needs_attention');
  await fx.tally.close();
  await db.close();

  const listed = await runCliInProcess(['alerts', '--open', '--json', data]);
  expect(listed.code).toBe(0);
  const [alert] = JSON.parse(listed.stdout) as { id: string; commandId: string; kind: string }[];
  expect(alert).toMatchObject({ commandId: r.id, kind: 'needs_attention' });

  const noReason = await runCliInProcess(['alerts', 'resolve', alert!.id, '--actor', 'ops', data]);
  expect(noReason.code).toBe(2);
  expect(noReason.stderr).toContain('ALERT, --actor WHO and --reason WHY are required');
  const unknown = await runCliInProcess([
    'alerts',
    'resolve',
    '999',
    '--actor',
    'ops',
    '--reason',
    'x',
    data,
  ]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('ALERT_NOT_FOUND');

  const by = ['--actor', 'ops:ana', '--reason', 'prizes platform outage, handled'];
  const done = await runCliInProcess(['alerts', 'resolve', alert!.id, ...by, data]);
  expect(done.code).toBe(0);
  expect(done.stdout).toContain(`alert ${alert!.id} resolved by ops:ana`);
  const again = await runCliInProcess(['alerts', 'resolve', alert!.id, ...by, data]);
  expect(again.stdout).toContain('was resolved already');
  const all = await runCliInProcess(['alerts', '--type', 'ca_redeem', data]);
  expect(all.stdout).toMatch(/resolved \S+ by ops:ana: prizes platform outage, handled/);
  const none = await runCliInProcess(['alerts', '--open', data]);
  expect(none.stderr).toBe('');
  expect(none.stdout.trim()).toBe('no open alerts');
});

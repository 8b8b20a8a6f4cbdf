// The bulk forms of the operator actions (decision 0148): `tally.requeue` / `tally requeue` and
// `tally repair --apply` write operator_actions rows like the single actions do (requeue: one per command,
// a repair: one per apply), beside what they recorded before (timeline events, repair log entries).
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { createTally } from '../../src/tally.js';
import { runCliInProcess, tempDir } from '../cli/run-cli.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };
const by = { actor: 'ops:ana', reason: 'C is back, ticket 90' };

describeEachDialect('bulk operator actions are recorded', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a bulk requeue writes an operator_actions row per command (its dry run none)', async () => {
    const fx = await redeemFixture(t.db, 'bq', { maxAttempts: 1 });
    fx.prizes.faults.loseReplyNext = 2;
    const a = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    const b = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect([a.status, b.status]).toEqual(['needs_attention', 'needs_attention']);

    const dry = await fx.tally.requeue({ type: 'bq_redeem', ...by, dryRun: true });
    expect(dry.commands).toHaveLength(2);
    expect(await fx.tally.actions.list({ action: 'requeue' })).toEqual([]);

    const done = await fx.tally.requeue({ type: 'bq_redeem', ...by });
    expect(done.requeued).toBe(2);
    for (const id of [a.id, b.id]) {
      expect(await fx.tally.actions.list({ target: id })).toMatchObject([
        { action: 'requeue', target: id, ...by, data: { type: 'bq_redeem', to: 'pending', bulk: true } },
      ]);
    }
    // Nothing left to requeue: no row.
    expect((await fx.tally.requeue({ type: 'bq_redeem', ...by })).requeued).toBe(0);
    expect(await fx.tally.actions.list({ action: 'requeue' })).toHaveLength(2);
  });
});

it('tally repair --apply writes an operator_actions row (the dry run and a second apply none)', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  let db = await pglite(data);
  const fx = await redeemFixture(db, 'br');
  await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
  await db.exec(`UPDATE br_accounts SET points = points + 5 WHERE id = 'u1'`);
  await db.close();

  const entity = ['--entity', 'br_account', '--table', 'br_accounts', '--data-dir', data];
  const env = { DATABASE_URL: undefined };
  const dry = await runCliInProcess(['repair', ...entity], env);
  expect(dry.code, dry.stderr).toBe(0);
  const apply = ['repair', ...entity, '--apply', '--actor', 'ops:ben', '--reason', 'INC-9: hand fix'];
  const first = await runCliInProcess(apply, env);
  expect(first.code, first.stderr).toBe(0);
  const second = await runCliInProcess(apply, env);
  expect(second.code, second.stderr).toBe(0);

  db = await pglite(data);
  try {
    const tally = await createTally({ db });
    expect(await tally.actions.list({ action: 'repair' })).toMatchObject([
      {
        action: 'repair',
        target: 'br_account',
        actor: 'ops:ben',
        reason: 'INC-9: hand fix',
        data: { planned: 1, repaired: 1, withheld: 0 },
      },
    ]);
  } finally {
    await db.close();
  }
}, 60_000);

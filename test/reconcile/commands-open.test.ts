import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DownstreamRecord, reconcileCommands } from '../../src/reconcile/commands/index.js';
import { callsPageSql } from '../../src/reconcile/commands/sql.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

const lookupOf =
  (fx: RedeemFixture) =>
  async (keys: readonly string[]): Promise<DownstreamRecord[]> =>
    keys.map((key) => ({ key, outcome: fx.prizes.issued.has(key) ? 'success' : 'not_found' }));

describeEachDialect('the commands reconciler reads what is open, not the history', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a finished call that agreed is settled and not read again; scope all still audits it', async () => {
    const fx = await redeemFixture(t.db, 'ro', { stock: 100 });
    const done: string[] = [];
    for (let i = 0; i < 4; i++)
      done.push((await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input })).id);
    fx.prizes.faults.loseReplyNext = 1; // still open: upstream unknown, the worker has it
    const open = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(open.status).toBe('pending');
    const run = (scope?: 'open' | 'all') =>
      reconcileCommands({
        db: t.db,
        type: 'ro_redeem',
        downstream: { lookup: lookupOf(fx) },
        clock: fx.clock.now,
        ...(scope ? { scope } : {}),
      });

    const first = await run(); // the first round reads everything once
    expect(first).toMatchObject({ checked: 5, agree: 4, settled: 4, mismatches: [] });
    expect(first.pending.map((d) => d.commandId)).toEqual([open.id]);
    const second = await run(); // then only what is open
    expect(second).toMatchObject({ checked: 1, agree: 0, settled: 0 });

    // C loses a settled record: an open round does not read it, an audit of every call finds it.
    fx.prizes.issued.delete(`${done[0]}.issue`);
    expect((await run()).mismatches).toEqual([]);
    const audit = await run('all');
    expect(audit).toMatchObject({ checked: 5, settled: 0 });
    expect(audit.mismatches.map((m) => [m.commandId, m.kind])).toEqual([
      [done[0], 'upstream_succeeded_downstream_missing'],
    ]);

    // The worker finishes the open one: the next round sees it agree and settles it too.
    fx.clock.advance(60_000);
    await fx.tally.worker().runOnce();
    expect(await run()).toMatchObject({ checked: 1, agree: 1, settled: 1 });
    expect(await run()).toMatchObject({ checked: 0, settled: 0 });
  });

  it("an open round's page is read through the partial index over unsettled calls", async () => {
    const q = callsPageSql(
      '"tally"',
      { type: 'ro_redeem', step: null, since: null, until: null, ids: null, open: true },
      '',
      1000,
    );
    // Small tables favour a sequential scan; with it off, the plan shows the index's predicate matches.
    const plan = await t.db.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off');
      return tx.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${q.text}`, values: q.values });
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('command_calls_unreconciled');
  });
});

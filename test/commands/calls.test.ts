import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { redeemFixture } from './support/redeem.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('commands: downstream calls, unknown outcomes, compensation', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('reply lost after C committed: the retry re-sends the identical stored request under the same key', async () => {
    const fx = await redeemFixture(t.db, 'c_lost');
    fx.prizes.faults.loseReplyNext = 1;
    const key = fx.nextKey();
    const first = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(first.status).toBe('pending'); // unknown is not failure
    expect(await fx.points('u1')).toBe(90);
    fx.clock.advance(3000); // a fresh timestamp would differ now
    const retry = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(retry).toMatchObject({ status: 'succeeded', replayed: true, result: { prizeId: 'P-1' } });
    const [a, b] = fx.prizes.received;
    expect(b).toEqual(a); // same key, same ts, same nonce
    expect(a!.key).toBe(`${first.id}.issue`); // derived 1:1 from the command
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.calls[0]!.request).toEqual(a!.request);
    expect(tl.calls[0]).toMatchObject({ sends: 2, outcome: 'success', resolved_by: 'reply' });
    expect(tl.events.map((e) => e.kind)).toEqual([
      'submitted',
      'decision',
      'step_done',
      'snapshot',
      'send',
      'unknown',
      'backoff',
      'send',
      'outcome',
      'step_done',
      'succeeded',
    ]);
    expect(tl.events[1]).toMatchObject({ step: 'deduct', data: { name: 'risk', value: 'ok' } });
    expect(tl.events.at(-1)!.at.getTime() - tl.events[0]!.at.getTime()).toBe(3000);
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  it('a 5xx before C recorded anything is unknown, not failure; the retry succeeds', async () => {
    const fx = await redeemFixture(t.db, 'c_5xx');
    fx.prizes.faults.crashNext = 2;
    const key = fx.nextKey();
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('pending');
    fx.clock.advance(750); // base 1 s × 0.75: the first retry is due
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('pending');
    expect(fx.fx.refunds).toBe(0);
    fx.clock.advance(1500);
    const r = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(r).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(fx.prizes.received).toHaveLength(3);
    await fx.checkInvariants();
  });

  it("an early query's 'not found' is unknown; no query before queryAfter; the later success is recorded", async () => {
    const fx = await redeemFixture(t.db, 'c_early', { queryAfter: '5s' });
    const worker = fx.tally.worker();
    fx.prizes.faults.slowRecordMs = 8000; // C records 8 s after the request arrives; the reply times out
    const key = fx.nextKey();
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('pending');
    fx.clock.advance(1000);
    await worker.runOnce(); // due after backoff: re-sends (C: still recording, 503), does not query
    expect(fx.prizes.queries).toHaveLength(0);
    fx.clock.advance(5000); // t = 6 s: the query is due; C has not recorded yet
    await worker.runOnce();
    expect(fx.prizes.queries).toHaveLength(1);
    const mid = (await fx.redeem.get({ key, principal: 'u1' }))!;
    expect(mid.status).toBe('pending');
    expect(fx.fx.refunds).toBe(0);
    fx.clock.advance(3000); // t = 9 s: C has recorded the prize
    await worker.runOnce();
    const done = (await fx.redeem.get({ key, principal: 'u1' }))!;
    expect(done).toMatchObject({ status: 'succeeded', result: { prizeId: 'P-1' } });
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.events.filter((e) => e.kind === 'query_answer').map((e) => e.data)).toEqual([
      { outcome: 'unknown', reason: 'not_found' },
    ]);
    expect(tl.calls[0]).toMatchObject({ outcome: 'success', resolved_by: 'query' });
    expect(new Set(fx.prizes.queries.map((q) => q.at - tl.calls[0]!.first_sent_at!.getTime())).has(0)).toBe(
      false,
    );
    for (const q of fx.prizes.queries)
      expect(q.at - tl.calls[0]!.first_sent_at!.getTime()).toBeGreaterThanOrEqual(5000);
    await fx.checkInvariants();
  });

  it('out of stock: a definite failure after the deduction refunds the points exactly once', async () => {
    const fx = await redeemFixture(t.db, 'c_stock', { stock: 1 });
    const ok = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(ok.status).toBe('succeeded');
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u2', input: { user: 'u2', prize: 'mug', qty: 1 } });
    expect(r).toMatchObject({
      status: 'failed',
      error: { step: 'issue', reason: 'out_of_stock', compensated: true },
    });
    expect(await fx.points('u2')).toBe(100);
    // Everything that could run it again: a retry, a duplicate refusal message, the worker.
    expect(
      (await fx.redeem.submit({ key, principal: 'u2', input: { user: 'u2', prize: 'mug', qty: 1 } }))
        .replayed,
    ).toBe(true);
    const downstreamKey = `${r.id}.issue`;
    expect(
      (await fx.redeem.notify(downstreamKey, { outcome: 'failure', reason: 'out_of_stock' })).status,
    ).toBe('duplicate');
    fx.clock.advance(60_000);
    expect((await fx.tally.worker().runOnce()).claimed).toBe(0);
    expect(fx.fx.refunds).toBe(1);
    expect(await fx.points('u2')).toBe(100);
    const log = await fx.accounts.history('u2');
    expect(log.map((l) => [l.action, l.command_id])).toEqual([
      ['deduct', r.id],
      ['refund', r.id],
    ]);
    await fx.checkInvariants();
  });

  it('out of stock found by a query after an unknown send also refunds exactly once', async () => {
    const fx = await redeemFixture(t.db, 'c_stockq', { stock: 0, resend: false });
    fx.prizes.faults.loseReplyNext = 1;
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(r.status).toBe('pending');
    fx.clock.advance(5000);
    const round = await fx.tally.worker().runOnce();
    expect(round.results[0]).toMatchObject({
      status: 'failed',
      error: { reason: 'out_of_stock', compensated: true },
    });
    expect(fx.prizes.received).toHaveLength(1); // resend: false — only the query was used
    expect(fx.fx.refunds).toBe(1);
    await fx.checkInvariants();
  });
});

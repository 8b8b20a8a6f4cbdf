import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { redeemFixture } from './support/redeem.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('commands: recorded decisions and inbound messages', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('a risk check that flips after C succeeded does not turn the retry into a failure', async () => {
    const fx = await redeemFixture(t.db, 'n_risk', {
      after: [
        {
          name: 'confirm',
          async run(ctx) {
            // A later step asks again: it gets the recorded answer, not a new one.
            const risk = await ctx.decide('risk', () => 'deny');
            if (risk !== 'ok') return ctx.fail('risk_denied');
            return { confirmed: true, prize: (ctx.outputs.issue as { prizeId: string }).prizeId };
          },
        },
      ],
    });
    fx.prizes.faults.loseReplyNext = 1;
    const key = fx.nextKey();
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('pending');
    fx.fx.risk = 'deny'; // risk control changes its mind after C issued the prize
    fx.clock.advance(2000);
    const retry = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(retry).toMatchObject({ status: 'succeeded', result: { confirmed: true, prize: 'P-1' } });
    expect(fx.fx.riskChecks).toBe(1);
    expect(fx.fx.refunds).toBe(0);
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.command.decisions).toEqual({ risk: 'ok' });
    expect(tl.events.filter((e) => e.kind === 'decision_replayed').map((e) => e.step)).toEqual(['confirm']);
    await fx.checkInvariants();
  });

  it('a message resolves an unknown outcome; duplicates are absorbed; a contradiction alerts and changes nothing', async () => {
    const fx = await redeemFixture(t.db, 'n_msg');
    fx.prizes.faults.loseReplyNext = 1;
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(r.status).toBe('pending');
    const dk = `${r.id}.issue`;
    const m1 = await fx.redeem.notify(dk, { outcome: 'success', value: { prizeId: 'P-1' } });
    expect(m1).toMatchObject({
      status: 'recorded',
      command: { status: 'succeeded', result: { prizeId: 'P-1' } },
    });
    expect((await fx.redeem.notify(dk, { outcome: 'success', value: { prizeId: 'P-1' } })).status).toBe(
      'duplicate',
    );
    const bad = await fx.redeem.notify(dk, { outcome: 'failure', reason: 'out_of_stock' });
    expect(bad).toMatchObject({ status: 'contradiction', command: { status: 'succeeded' } });
    const alerts = await fx.redeem.alerts({ open: true });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ commandId: r.id, kind: 'contradicting_message' });
    expect(fx.fx.refunds).toBe(0);
    // The worker has nothing left to do and the retry replays the recorded success.
    fx.clock.advance(60_000);
    expect((await fx.tally.worker().runOnce()).claimed).toBe(0);
    expect(fx.prizes.received).toHaveLength(1);
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).result).toEqual({ prizeId: 'P-1' });
    await fx.checkInvariants();
  });

  it('a failure message after the deduction compensates once; a late success alerts and never flips it', async () => {
    const fx = await redeemFixture(t.db, 'n_fail');
    fx.prizes.faults.crashNext = 1;
    const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    const dk = `${r.id}.issue`;
    const m = await fx.redeem.notify(dk, { outcome: 'failure', reason: 'out_of_stock' });
    expect(m.command).toMatchObject({
      status: 'failed',
      error: { reason: 'out_of_stock', compensated: true },
    });
    expect((await fx.redeem.notify(dk, { outcome: 'failure', reason: 'out_of_stock' })).status).toBe(
      'duplicate',
    );
    expect((await fx.redeem.notify(dk, { outcome: 'success', value: { prizeId: 'X' } })).status).toBe(
      'contradiction',
    );
    expect((await fx.redeem.get({ key: r.key, principal: 'u1' }))!.status).toBe('failed');
    expect(fx.fx.refunds).toBe(1);
    expect(await fx.points('u1')).toBe(100);
    expect((await fx.redeem.alerts()).map((a) => a.kind)).toEqual(['contradicting_message']);
    await fx.checkInvariants();
  });

  it('a reply that arrives after a message settled the call is absorbed', async () => {
    const fx = await redeemFixture(t.db, 'n_race');
    let open!: () => void;
    fx.prizes.faults.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const key = fx.nextKey();
    const pending = fx.redeem.submit({ key, principal: 'u1', input });
    while (fx.prizes.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    const id = (await fx.redeem.get({ key, principal: 'u1' }))!.id;
    // C's callback overtakes its own reply.
    const m = await fx.redeem.notify(`${id}.issue`, { outcome: 'success', value: { prizeId: 'P-1' } });
    expect(m.status).toBe('recorded');
    open();
    expect(await pending).toMatchObject({ status: 'succeeded', result: { prizeId: 'P-1' } });
    const tl = (await fx.redeem.timeline({ id }))!;
    expect(
      tl.events.filter((e) => e.kind === 'duplicate').map((e) => (e.data as { via: string }).via),
    ).toEqual(['reply']);
    expect(tl.events.filter((e) => e.kind === 'succeeded')).toHaveLength(1);
    await fx.checkInvariants();
  });

  it('a message for a key no call was sent with raises an alert', async () => {
    const fx = await redeemFixture(t.db, 'n_unknown');
    const m = await fx.redeem.notify('00000000-0000-4000-8000-000000000000.issue', { outcome: 'success' });
    expect(m).toEqual({ status: 'unknown_key', command: null });
    expect((await fx.redeem.alerts()).map((a) => [a.kind, a.commandId])).toEqual([['unknown_message', null]]);
  });
});

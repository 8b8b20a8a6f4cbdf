import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';
import { redeemFixture } from './support/redeem.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('commands: lock-check-update steps and compensation', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it("a step's audited changes commit with the command's state or not at all", async () => {
    const fx = await redeemFixture(t.db, 'st_atomic');
    let crash = true;
    let failAfter = false;
    const local = fx.tally.command<typeof input>('st_atomic_local', {
      fingerprint: (i) => i,
      steps: [
        {
          name: 'deduct',
          async run(ctx) {
            await fx.accounts.update({ key: 'u1', set: { points: 50 }, action: 'deduct', ...ctx.write });
            if (crash) throw new Error('process died mid-step');
            if (failAfter) return ctx.fail('campaign_ended');
            return { ok: true };
          },
        },
      ],
    });
    const r1 = await local.submit({ key: 'a1', principal: 'u1', input });
    expect(r1).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await fx.points('u1')).toBe(100);
    expect(await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'st_atomic_account'`)).toBe(0);
    crash = false;
    failAfter = true;
    const r2 = await local.submit({ key: 'a1', principal: 'u1', input });
    expect(r2).toMatchObject({ status: 'failed', error: { step: 'deduct', reason: 'campaign_ended' } });
    expect(await fx.points('u1')).toBe(100); // the failing step's own write was rolled back: nothing to refund
    failAfter = false;
    const r3 = await local.submit({ key: 'a2', principal: 'u1', input });
    expect(r3).toMatchObject({ status: 'succeeded', result: { ok: true } });
    const log = await fx.accounts.history('u1');
    expect(log.map((l) => [l.action, l.command_id, l.actor, l.request_id])).toEqual([
      ['deduct', r3.id, 'u1', 'a2'],
    ]);
    expect((await fx.accounts.verify('u1')).ok).toBe(true);
  });

  it('a compensation that crashes is retried, and the points come back exactly once', async () => {
    const fx = await redeemFixture(t.db, 'st_comp', { stock: 0 });
    fx.fx.compensationCrashes = 1;
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(r.status).toBe('compensating');
    expect(await fx.points('u1')).toBe(90);
    fx.clock.advance(60_000);
    const round = await fx.tally.worker().runOnce();
    expect(round.results[0]).toMatchObject({
      status: 'failed',
      error: { reason: 'out_of_stock', compensated: true },
    });
    fx.clock.advance(60_000);
    expect((await fx.tally.worker().runOnce()).claimed).toBe(0);
    expect(await fx.points('u1')).toBe(100);
    expect(fx.fx.refunds).toBe(1);
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.events.filter((e) => e.kind === 'compensated')).toHaveLength(1);
    await fx.checkInvariants();
  });

  it('a check that says no before any effect fails the command without compensation', async () => {
    const fx = await redeemFixture(t.db, 'st_deny', { users: { u1: 5 } });
    const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(r).toMatchObject({
      status: 'failed',
      error: { reason: 'insufficient_points', details: { needed: 10 } },
    });
    expect(fx.prizes.received).toHaveLength(0);
    expect(fx.fx.refunds).toBe(0);
    const tl = (await fx.redeem.timeline({ id: r.id }))!;
    expect(tl.command.decisions).toEqual({ risk: 'ok' }); // the decision that led here is kept
    await fx.checkInvariants();
  });
});

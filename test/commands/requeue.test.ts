import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { redeemFixture } from './support/redeem.js';

// What was stranded can be freed, and what cannot be retried is not retried forever.
const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('commands: deadline, requeue, refused compensation', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('the budget is a deadline: backoff never passes it, the last attempt at it flags the command', async () => {
    const fx = await redeemFixture(t.db, 'q_deadline', {
      deadline: '10s',
      breaker: false,
      maxAttempts: 1000,
    });
    const worker = fx.tally.worker();
    fx.prizes.faults.crashNext = 1000; // C answers 503 to everything: unknown, again and again
    const key = fx.nextKey();
    await fx.redeem.submit({ key, principal: 'u1', input });
    for (let s = 0; s < 30; s++) {
      fx.clock.advance(1000);
      await worker.runOnce();
    }
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.command.status).toBe('needs_attention');
    const last = tl.events.filter((e) => e.kind === 'backoff').at(-1)!;
    expect(new Date((last.data as { nextAt: string }).nextAt).getTime()).toBe(
      tl.command.createdAt.getTime() + 10_000,
    );
    expect(tl.alerts).toHaveLength(1);
    expect(tl.alerts[0]!.message).toContain('reached its deadline');
    expect(tl.alerts[0]!.data).toMatchObject({ why: 'deadline' });
  });

  it('requeue frees one stranded command with who and why; the worker then finishes it', async () => {
    const fx = await redeemFixture(t.db, 'q_one', { maxAttempts: 2, breaker: false });
    const worker = fx.tally.worker();
    fx.prizes.faults.crashNext = 2;
    const key = fx.nextKey();
    await fx.redeem.submit({ key, principal: 'u1', input });
    fx.clock.advance(60_000);
    await worker.runOnce();
    expect((await fx.redeem.get({ key, principal: 'u1' }))!.status).toBe('needs_attention');
    expect(await fx.redeem.alerts({ open: true })).toHaveLength(1);

    const bad = await fx.redeem.requeue({ key, principal: 'u1' }, { actor: '', reason: 'x' }).catch((e) => e);
    expect(isTallyError(bad, 'MISSING_ACTOR')).toBe(true);
    const freed = await fx.redeem.requeue(
      { key, principal: 'u1' },
      { actor: 'ops:alice', reason: 'C is back' },
    );
    expect(freed).toMatchObject({ requeued: true, command: { status: 'pending', attempts: 0 } });
    expect(await fx.redeem.alerts({ open: true })).toEqual([]);
    // A second requeue finds nothing stranded: nothing changes.
    const again = await fx.redeem.requeue({ key, principal: 'u1' }, { actor: 'ops:alice', reason: 'again' });
    expect(again.requeued).toBe(false);
    await worker.runOnce();
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.command.status).toBe('succeeded');
    const requeued = tl.events.find((e) => e.kind === 'requeued')!;
    expect(requeued.data).toEqual({ actor: 'ops:alice', reason: 'C is back', to: 'pending' });
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  it('bulk requeue by type, downstream and time range; a dry run changes nothing', async () => {
    const fx = await redeemFixture(t.db, 'q_bulk', { maxAttempts: 1, breaker: false });
    fx.prizes.faults.crashNext = 5;
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) {
      const key = fx.nextKey();
      keys.push(key);
      await fx.redeem.submit({ key, principal: 'u1', input });
      fx.clock.advance(60_000);
    }
    const start = new Date(fx.clock.now().getTime() - 5 * 60_000);
    const by = { actor: 'ops:bob', reason: 'outage over' };
    const badDownstream = await fx.tally.requeue({ ...by, downstream: 'nobody' }).catch((e) => e);
    expect(isTallyError(badDownstream, 'INVALID_REQUEUE_OPTIONS')).toBe(true);
    const dry = await fx.tally.requeue({ ...by, downstream: 'q_bulk.prizes', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, requeued: 0 });
    expect(dry.commands.map((c) => c.key)).toEqual(keys);
    // Only the middle three (received from 1 to 4 minutes after the first).
    const r = await fx.tally.requeue({
      ...by,
      type: 'q_bulk_redeem',
      downstream: 'q_bulk.prizes',
      since: new Date(start.getTime() + 60_000),
      until: new Date(start.getTime() + 4 * 60_000),
    });
    expect(r.requeued).toBe(3);
    expect(r.commands.map((c) => c.key)).toEqual(keys.slice(1, 4));
    expect(r.commands.every((c) => c.status === 'pending')).toBe(true);
    await fx.tally.worker().runOnce();
    const statuses = await Promise.all(
      keys.map(async (key) => (await fx.redeem.get({ key, principal: 'u1' }))!.status),
    );
    expect(statuses).toEqual(['needs_attention', 'succeeded', 'succeeded', 'succeeded', 'needs_attention']);
    await fx.checkInvariants({ inDoubtPoints: 20 });
  });

  it('a compensation the database refuses is flagged with its reason, not retried forever', async () => {
    const fx = await redeemFixture(t.db, 'q_refuse', { users: { u1: 100 }, breaker: false });
    const worker = fx.tally.worker();
    // A trigger that refuses refunds (a rule someone added to the table): the compensation cannot succeed.
    await t.db.exec(`CREATE FUNCTION q_refuse_no_refund() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.points > OLD.points THEN RAISE EXCEPTION 'refunds are frozen'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER no_refund BEFORE UPDATE ON q_refuse_accounts
        FOR EACH ROW EXECUTE FUNCTION q_refuse_no_refund()`);
    fx.prizes.stock = 0; // C refuses definitely: out of stock → compensate
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(r.status).toBe('needs_attention');
    for (let s = 0; s < 5; s++) {
      fx.clock.advance(60_000);
      expect((await worker.runOnce()).claimed).toBe(0);
    }
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.command).toMatchObject({ status: 'needs_attention', attempts: 0 });
    expect(tl.alerts).toHaveLength(1);
    expect(tl.alerts[0]!.message).toContain('refunds are frozen');
    expect(tl.alerts[0]!.data).toMatchObject({ why: 'compensation_refused', sqlState: 'P0001' });
    // Once the rule is lifted, a requeue goes back to compensating and the refund happens once.
    await t.db.exec('DROP TRIGGER no_refund ON q_refuse_accounts');
    const freed = await fx.redeem.requeue({ key, principal: 'u1' }, { actor: 'ops', reason: 'rule lifted' });
    expect(freed.command?.status).toBe('compensating');
    await worker.runOnce();
    expect((await fx.redeem.get({ key, principal: 'u1' }))!).toMatchObject({
      status: 'failed',
      error: { reason: 'out_of_stock', compensated: true },
    });
    expect(await fx.points('u1')).toBe(100);
    await fx.checkInvariants();
  });
});

import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { redeemFixture } from './support/redeem.js';

// A downstream outage as real clients drive it: a page that retries the same key every second, many
// clients knocking on one pending key, and a downstream that is down for everyone (its breaker).
const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('commands: outages, client retries and the breaker', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('a 10 s outage with a client retrying every second ends succeeded: attempts follow the schedule', async () => {
    // The field report: 10 attempts in 10 s (one per knock) and the command was stranded for good.
    const fx = await redeemFixture(t.db, 'o_page', { maxAttempts: 10 });
    const worker = fx.tally.worker();
    fx.prizes.faults.down = true;
    const key = fx.nextKey();
    const first = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(first).toMatchObject({ status: 'pending', attempts: 1 });
    expect(first.retryAfterMs).toBe(750); // base 1 s with the fixture's jitter 0.5
    let last = first;
    for (let second = 1; second <= 30 && last.status !== 'succeeded'; second++) {
      fx.clock.advance(1000);
      if (second === 10) fx.prizes.faults.down = false; // C is back
      await worker.runOnce();
      last = await fx.redeem.submit({ key, principal: 'u1', input });
      expect(['pending', 'succeeded']).toContain(last.status);
    }
    expect(last).toMatchObject({ status: 'succeeded', result: { prizeId: 'P-1' } });
    // 750 ms, 1.5 s, 3 s, 6 s of backoff, run on the next whole second: sends at 0, 1, 3 and 6 s fail,
    // the one at 12 s succeeds; one query (due 5 s after the first send) was refused too.
    expect(last.attempts).toBe(4);
    expect(fx.prizes.refusedConnections).toBe(5);
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  it('64 clients retrying one pending key spend no attempt the schedule does not allow', async () => {
    const fx = await redeemFixture(t.db, 'o_knock', { breaker: false });
    fx.prizes.faults.down = true;
    const key = fx.nextKey();
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).attempts).toBe(1);
    const knock = () =>
      Promise.all(
        Array.from({ length: 64 }, () =>
          fx.redeem.submit({ key, principal: 'u1', input }).catch((e: unknown) => {
            // A knock that meets the one due attempt in flight is told so (409); it changes nothing.
            if (isTallyError(e, 'COMMAND_IN_FLIGHT')) return null;
            throw e;
          }),
        ),
      );
    const early = await knock();
    expect(early.every((r) => r?.status === 'pending' && r.attempts === 1)).toBe(true);
    expect(early.every((r) => r?.retryAfterMs === 750)).toBe(true);
    expect(fx.prizes.refusedConnections).toBe(1);
    fx.clock.advance(750); // the second attempt is due: exactly one of the 64 runs it
    await knock();
    expect(fx.prizes.refusedConnections).toBe(2);
    const after = (await fx.redeem.get({ key, principal: 'u1' }))!;
    expect(after).toMatchObject({ status: 'pending', attempts: 2 });
    fx.clock.advance(1000); // 1.5 s are due after the second attempt: not yet
    await knock();
    expect(fx.prizes.refusedConnections).toBe(2);
    fx.prizes.faults.down = false;
    fx.clock.advance(500);
    const done = await knock();
    expect(done.some((r) => r?.status === 'succeeded')).toBe(true);
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  // 200 commands: two of the worker's batches of 100 when they resume (500 made this the slowest test of
  // the file, seconds per hundred sequential submits on PGlite, and proved nothing more).
  it('a 60 s outage across 200 commands: the breaker opens, paused commands spend no attempts, all resume', async () => {
    const N = 200;
    const fx = await redeemFixture(t.db, 'o_breaker', { users: { u1: 10 * N }, stock: N });
    const worker = fx.tally.worker({ batchSize: 100, concurrency: 4 });
    fx.prizes.faults.down = true;
    const keys = Array.from({ length: N }, () => fx.nextKey());
    for (const key of keys) {
      const r = await fx.redeem.submit({ key, principal: 'u1', input });
      expect(r.status).toBe('pending');
    }
    // Five calls could not connect: the breaker opened; the fifth command and every later one paused
    // (the first four back off, and pause when their retry meets the open breaker).
    expect(fx.prizes.refusedConnections).toBe(5);
    const [open] = await fx.tally.downstreams();
    expect(open).toMatchObject({ name: 'o_breaker.prizes', state: 'open', failures: 5, paused: N - 4 });
    const alerts = await fx.redeem.alerts({ open: true });
    expect(alerts.map((a) => a.kind)).toEqual(['downstream_unreachable']);
    const paused = await fx.redeem.get({ key: keys[N - 1]!, principal: 'u1' });
    expect(paused).toMatchObject({ status: 'pending', attempts: 0, pausedOn: 'o_breaker.prizes' });

    for (let s = 1; s <= 60; s++) {
      fx.clock.advance(1000);
      await worker.runOnce();
    }
    // Probes at 5, 15 and 35 s (5 s doubling, capped at 30 s): three connections in 60 s, not N × n.
    expect(fx.prizes.refusedConnections).toBe(8);
    const [row] = await t.db.query<{ attempts: number; flagged: number }>({
      text: `SELECT sum(attempts)::int AS attempts,
                    count(*) FILTER (WHERE status = 'needs_attention')::int AS flagged
               FROM tally.commands WHERE type = 'o_breaker_redeem'`,
    });
    expect(row).toMatchObject({ attempts: 5, flagged: 0 });

    fx.prizes.faults.down = false; // C is back: the next probe reaches it and everyone resumes
    for (let s = 0; s < 40; s++) {
      fx.clock.advance(1000);
      const round = await worker.runOnce();
      if (round.claimed === 0 && (await fx.tally.downstreams())[0]?.state === 'closed') {
        const [left] = await t.db.query<{ n: number }>({
          text: `SELECT count(*)::int AS n FROM tally.commands WHERE type = 'o_breaker_redeem' AND status <> 'succeeded'`,
        });
        if (Number(left!.n) === 0) break;
      }
    }
    const [closed] = await fx.tally.downstreams();
    expect(closed).toMatchObject({ state: 'closed', failures: 0, paused: 0 });
    expect(await fx.redeem.alerts({ open: true })).toEqual([]);
    expect(fx.prizes.effects).toBe(N);
    const tl = (await fx.redeem.timeline({ key: keys[N - 1]!, principal: 'u1' }))!;
    expect(tl.command).toMatchObject({ status: 'succeeded', attempts: 0 });
    expect(tl.events.map((e) => e.kind)).toContain('resumed');
    await fx.checkInvariants();
  });
});

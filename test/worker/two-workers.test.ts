import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redeemFixture } from '../commands/support/redeem.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

// Real PostgreSQL: two workers on separate connections claim at the same time.
describe.skipIf(!postgresAvailable)('two workers at once [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(16);
  });
  afterAll(() => t.close());

  it('never drive the same command twice', async () => {
    const N = 40;
    const fx = await redeemFixture(t.db, 'k_2w', { users: { u1: 10 * N } });
    fx.prizes.faults.loseReplyNext = N;
    const keys = Array.from({ length: N }, () => fx.nextKey());
    for (const key of keys)
      await fx.redeem.submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 1 } });
    fx.prizes.faults.delayMs = 5; // widen the window between claim and finish
    fx.clock.advance(1000);
    const w1 = fx.tally.worker({ id: 'w-1', batchSize: 5, concurrency: 2 });
    const w2 = fx.tally.worker({ id: 'w-2', batchSize: 5, concurrency: 2 });
    const claimedBy = { 'w-1': 0, 'w-2': 0 };
    for (;;) {
      const [a, b] = await Promise.all([w1.runOnce(), w2.runOnce()]);
      claimedBy['w-1'] += a.claimed;
      claimedBy['w-2'] += b.claimed;
      if (a.claimed + b.claimed === 0) break;
    }
    expect(claimedBy['w-1'] + claimedBy['w-2']).toBe(N);
    expect(claimedBy['w-1']).toBeGreaterThan(0);
    expect(claimedBy['w-2']).toBeGreaterThan(0);
    const sendsPerKey = new Map<string, number>();
    for (const r of fx.prizes.received) sendsPerKey.set(r.key, (sendsPerKey.get(r.key) ?? 0) + 1);
    expect([...sendsPerKey.values()].every((n) => n === 2)).toBe(true); // the first send + exactly one retry
    const [row] = await t.db.query<{ claims: number; done: number }>({
      text: `SELECT (SELECT count(*)::int FROM tally.command_events e JOIN tally.commands c ON c.id = e.command_id
                      WHERE c.type = 'k_2w_redeem' AND e.kind = 'claimed') AS claims,
                    (SELECT count(*)::int FROM tally.commands WHERE type = 'k_2w_redeem' AND status = 'succeeded') AS done`,
    });
    expect(row).toEqual({ claims: N, done: N });
    expect(fx.prizes.effects).toBe(N);
    await fx.checkInvariants();
  });
});

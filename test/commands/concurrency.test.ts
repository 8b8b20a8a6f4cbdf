import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { redeemFixture } from './support/redeem.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

// Real PostgreSQL with a pool: 64 identical requests really race for the key (PGlite has one connection).
describe.skipIf(!postgresAvailable)('64 concurrent identical submits [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(24);
  });
  afterAll(() => t.close());

  it('make one effect: one attempt runs, the others answer COMMAND_IN_FLIGHT or replay it', async () => {
    const fx = await redeemFixture(t.db, 'k_c64');
    // C holds the one attempt until the other 63 have answered (or 10 s pass), so they really arrive while
    // it is in flight: a fixed delay made this depend on how fast the attempt got to C.
    let answered = 0;
    let release!: () => void;
    fx.prizes.faults.gate = new Promise<void>((r) => {
      release = r;
      setTimeout(r, 10_000).unref();
    });
    const key = fx.nextKey();
    const settled = await Promise.allSettled(
      Array.from({ length: 64 }, () =>
        fx.redeem.submit({ key, principal: 'u1', input }).finally(() => {
          if (++answered >= 63) release();
        }),
      ),
    );
    const ran = settled.filter((s) => s.status === 'fulfilled' && !s.value.replayed);
    expect(ran).toHaveLength(1);
    for (const s of settled) {
      if (s.status === 'rejected') expect(isTallyError(s.reason, 'COMMAND_IN_FLIGHT')).toBe(true);
      else expect(s.value.status).toBe('succeeded');
    }
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(63);
    expect(fx.prizes.received).toHaveLength(1);
    expect(fx.fx.deducts).toBe(1);
    expect(await fx.points('u1')).toBe(90);
    await fx.checkInvariants();
  });

  it('with waitMs, all 64 wait for the one attempt and get its recorded result', async () => {
    const fx = await redeemFixture(t.db, 'k_c64w', { waitMs: 20_000 });
    fx.prizes.faults.delayMs = 30;
    const key = fx.nextKey();
    const all = await Promise.all(
      Array.from({ length: 64 }, () => fx.redeem.submit({ key, principal: 'u1', input })),
    );
    expect(new Set(all.map((r) => r.id)).size).toBe(1);
    expect(
      all.every((r) => r.status === 'succeeded' && (r.result as { prizeId: string }).prizeId === 'P-1'),
    ).toBe(true);
    expect(all.filter((r) => !r.replayed)).toHaveLength(1);
    expect(fx.prizes.received).toHaveLength(1);
    await fx.checkInvariants();
  });
});

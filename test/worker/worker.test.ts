import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('worker: drives unfinished commands', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('claims only due commands and drives each to its end', async () => {
    const fx = await redeemFixture(t.db, 'w_due', { users: { u1: 100, u2: 100 } });
    fx.prizes.faults.loseReplyNext = 3;
    const keys = [fx.nextKey(), fx.nextKey(), fx.nextKey()];
    for (const key of keys)
      expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('pending');
    const worker = fx.tally.worker({ id: 'w-1' });
    expect((await worker.runOnce()).claimed).toBe(0); // backing off: not due yet
    fx.clock.advance(750); // base 1 s × (0.5 + 0.5 / 2) with random() = 0.5
    const round = await worker.runOnce();
    expect(round).toMatchObject({ claimed: 3, errors: 0 });
    expect(round.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(fx.prizes.effects).toBe(3);
    const tl = (await fx.redeem.timeline({ key: keys[0]!, principal: 'u1' }))!;
    expect(tl.events.find((e) => e.kind === 'claimed')?.data).toMatchObject({ worker: 'w-1' });
    await fx.checkInvariants();
  });

  it('backs off exponentially with injected jitter; after the attempt limit: needs_attention and an alert', async () => {
    const fx = await redeemFixture(t.db, 'w_limit', { maxAttempts: 4 });
    fx.prizes.faults.crashNext = 100; // C is down
    const worker = fx.tally.worker();
    const key = fx.nextKey();
    const jitter = [0.5, 0, 0.999];
    fx.fx.random = jitter[0]!;
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('pending');
    for (let i = 1; i < 4; i++) {
      fx.fx.random = jitter[i] ?? 0.5;
      fx.clock.advance(60_000);
      await worker.runOnce();
    }
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    // base 1 s doubling: 1 s × 0.75, 2 s × 0.5, 4 s × ~1
    expect(
      tl.events.filter((e) => e.kind === 'backoff').map((e) => (e.data as { delayMs: number }).delayMs),
    ).toEqual([750, 1000, 3998]);
    expect(tl.command).toMatchObject({ status: 'needs_attention', attempts: 4 });
    expect(tl.alerts.map((a) => a.kind)).toEqual(['needs_attention']);
    expect(fx.prizes.received).toHaveLength(4);
    fx.clock.advance(3_600_000);
    expect((await worker.runOnce()).claimed).toBe(0); // flagged for a person: the worker leaves it alone
    expect((await fx.redeem.submit({ key, principal: 'u1', input })).status).toBe('needs_attention');
    await fx.checkInvariants({ inDoubtPoints: 10 }); // deducted, nothing issued, outcome unknown
  });

  it('a definite answer that arrives late still settles a command that needs attention', async () => {
    const fx = await redeemFixture(t.db, 'w_late', { maxAttempts: 2, withQuery: false });
    fx.prizes.faults.loseReplyNext = 100; // C issues, but no reply ever comes back
    const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    fx.clock.advance(60_000);
    await fx.tally.worker().runOnce();
    expect((await fx.redeem.get({ key: r.key, principal: 'u1' }))!.status).toBe('needs_attention');
    const m = await fx.redeem.notify(`${r.id}.issue`, { outcome: 'success', value: { prizeId: 'P-1' } });
    expect(m.command).toMatchObject({ status: 'succeeded', result: { prizeId: 'P-1' } });
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  it("a crashed worker's lease expires and another worker continues; the first one's late reply changes nothing", async () => {
    const fx = await redeemFixture(t.db, 'w_crash', { leaseMs: 10_000 });
    fx.prizes.faults.loseReplyNext = 1;
    const key = fx.nextKey();
    await fx.redeem.submit({ key, principal: 'u1', input });
    fx.clock.advance(1000);
    let open!: () => void;
    fx.prizes.faults.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const a = fx.tally.worker({ id: 'w-a', leaseMs: 10_000 });
    const b = fx.tally.worker({ id: 'w-b', leaseMs: 10_000 });
    const stuck = a.runOnce(); // w-a hangs inside its send, as if its process had died
    while (fx.prizes.received.length < 2) await new Promise((r) => setTimeout(r, 5));
    fx.prizes.faults.gate = null;
    expect((await b.runOnce()).claimed).toBe(0); // w-a's lease still holds
    fx.clock.advance(10_001);
    const taken = await b.runOnce();
    expect(taken.results.map((r) => r.status)).toEqual(['succeeded']);
    open();
    const late = await stuck;
    expect(late.results.map((r) => r.status)).toEqual(['succeeded']);
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(
      tl.events.filter((e) => e.kind === 'claimed').map((e) => (e.data as { worker: string }).worker),
    ).toEqual(['w-a', 'w-b']);
    expect(tl.events.filter((e) => e.kind === 'succeeded')).toHaveLength(1);
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  it('start() runs rounds in the background until stop()', async () => {
    const fx = await redeemFixture(t.db, 'w_loop');
    fx.prizes.faults.crashNext = 1;
    const key = fx.nextKey();
    await fx.redeem.submit({ key, principal: 'u1', input });
    fx.clock.advance(1000);
    const worker = fx.tally.worker({ pollMs: 10 });
    worker.start();
    expect(worker.running).toBe(true);
    const deadline = Date.now() + 10_000;
    while ((await fx.redeem.get({ key, principal: 'u1' }))!.status !== 'succeeded' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker.stop();
    expect(worker.running).toBe(false);
    expect((await fx.redeem.get({ key, principal: 'u1' }))!.status).toBe('succeeded');
    await fx.checkInvariants();
  });

  it('validates its options', async () => {
    const fx = await redeemFixture(t.db, 'w_opts');
    for (const bad of [{ batchSize: 0 }, { concurrency: 1.5 }, { leaseMs: 5 }, { id: 'has space' }]) {
      let err: unknown;
      try {
        fx.tally.worker(bad);
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_WORKER_OPTIONS'), JSON.stringify(bad)).toBe(true);
    }
  });
});

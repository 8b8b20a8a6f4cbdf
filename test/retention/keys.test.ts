import Fastify from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pruneExpiredKeys } from '../../src/commands/retention.js';
import { isTallyError } from '../../src/errors.js';
import { dropConsumer } from '../../src/feed/admin.js';
import { openConsumer } from '../../src/feed/consumer.js';
import { idempotent, tallyFastify } from '../../src/http/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { testClock } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

const HOUR = 3_600_000;

// Idempotency keys expire per command type (decision 0061): an expired record still answers its
// recorded outcome until a prune removes it; a prune removes only what nothing still needs.
describeEachDialect('retention: idempotency key expiry and pruning', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  const clock = testClock();
  const runs: Record<string, number> = {};
  const count = (name: string) => {
    runs[name] = (runs[name] ?? 0) + 1;
    return { n: runs[name] };
  };
  beforeAll(async () => {
    t = await fresh();
    tally = await createTally({ db: t.db, clock: clock.now });
    await tally.migrate();
  });
  afterAll(() => t.close());

  const commandCount = async (type: string) =>
    Number(
      (
        await t.db.query<{ n: string }>({
          text: 'SELECT count(*)::text AS n FROM tally.commands WHERE type = $1',
          values: [type],
        })
      )[0]!.n,
    );

  it('keyRetention is milliseconds or a duration from 1s to 3650d; false keeps forever', () => {
    const def = { fingerprint: (i: unknown) => i, steps: [{ name: 'a', run: () => 1 }] };
    expect(tally.command('r_ok', { ...def, keyRetention: '30d' }).runtime.spec.keyRetentionMs).toBe(
      30 * 24 * HOUR,
    );
    expect(tally.command('r_off', { ...def, keyRetention: false }).runtime.spec.keyRetentionMs).toBeNull();
    for (const bad of ['30', '2w', 0, 999, -5, '3651d', 1.5]) {
      const err = (() => {
        try {
          tally.command(`r_bad_${String(bad).replace(/[^a-z0-9]/g, '')}`, { ...def, keyRetention: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(isTallyError(err, 'INVALID_COMMAND'), String(bad)).toBe(true);
    }
  });

  it('an expired record answers its outcome until pruned; then the key is free; other types are kept', async () => {
    const pay = tally.command('k_pay', {
      fingerprint: (i: { amount: number }) => i,
      keyRetention: '1h',
      steps: [{ name: 'charge', run: () => count('k_pay') }],
    });
    const keep = tally.command('k_keep', {
      fingerprint: (i: { amount: number }) => i,
      steps: [{ name: 'charge', run: () => count('k_keep') }],
    });
    const first = await pay.submit({ key: 'a', principal: 'u1', input: { amount: 5 } });
    expect(first).toMatchObject({ status: 'succeeded', result: { n: 1 } });
    await keep.submit({ key: 'a', principal: 'u1', input: { amount: 5 } });
    clock.advance(2 * HOUR);
    // Expired, not yet pruned: the recorded outcome, never a second run.
    const again = await pay.submit({ key: 'a', principal: 'u1', input: { amount: 5 } });
    expect(again).toMatchObject({ id: first.id, status: 'succeeded', result: { n: 1 }, replayed: true });
    expect(runs.k_pay).toBe(1);
    // A fresh record of the same type is not expired: kept.
    await pay.submit({ key: 'b', principal: 'u1', input: { amount: 5 } });

    const pruned = await pruneExpiredKeys(tally, [pay, keep]);
    expect(pruned).toEqual({ deleted: { k_pay: 1 }, intakeDeleted: 0, total: 1, chunks: 1, done: true });
    expect(await pay.get({ key: 'a', principal: 'u1' })).toBeNull();
    expect(await pay.get({ key: 'b', principal: 'u1' })).not.toBeNull();
    expect(await keep.get({ key: 'a', principal: 'u1' })).not.toBeNull();
    const events = await t.db.query({
      text: 'SELECT 1 FROM tally.command_events WHERE command_id = $1::uuid',
      values: [first.id],
    });
    expect(events).toEqual([]);
    // Pruned: the key is forgotten, as documented — a submit with it is a new request.
    const reborn = await pay.submit({ key: 'a', principal: 'u1', input: { amount: 5 } });
    expect(reborn.id).not.toBe(first.id);
    expect(reborn.replayed).toBe(false);
    expect(runs.k_pay).toBe(3);
  });

  it('never prunes an unfinished command, one with an open alert, or (by default) an unreconciled call', async () => {
    let fail = true;
    const open = tally.command('k_open', {
      fingerprint: (i: { n: number }) => i,
      keyRetention: '1s',
      retry: { baseMs: 10 * HOUR, maxMs: 10 * HOUR },
      steps: [
        {
          name: 'flaky',
          run: () => {
            if (fail) throw new Error('transient');
            return 1;
          },
        },
      ],
    });
    const called = tally.command('k_called', {
      fingerprint: (i: { n: number }) => i,
      keyRetention: '1s',
      steps: [{ name: 'send', call: { request: () => ({ x: 1 }), send: async () => ({ ok: true }) } }],
    });
    const alerted = tally.command('k_alerted', {
      fingerprint: (i: { n: number }) => i,
      keyRetention: '1s',
      steps: [{ name: 'a', run: () => 1 }],
    });
    const pending = await open.submit({ key: 'p', principal: 'u1', input: { n: 1 } });
    expect(pending.status).toBe('pending');
    const withCall = await called.submit({ key: 'c', principal: 'u1', input: { n: 1 } });
    expect(withCall.status).toBe('succeeded');
    const a = await alerted.submit({ key: 'x', principal: 'u1', input: { n: 1 } });
    await t.db.query({
      text: `INSERT INTO tally.command_alerts (command_id, command_type, kind, message, at)
             VALUES ($1::uuid, 'k_alerted', 'test', 'look at me', now())`,
      values: [a.id],
    });
    clock.advance(HOUR);
    expect((await pruneExpiredKeys(tally, [open, called, alerted])).total).toBe(0);
    // Without a reconciler, the caller says so: the finished call goes too.
    expect(
      (await pruneExpiredKeys(tally, [open, called, alerted], { unreconciledCalls: 'prune' })).deleted,
    ).toEqual({ k_open: 0, k_called: 1, k_alerted: 0 });
    await t.db.query({ text: 'UPDATE tally.command_alerts SET resolved_at = now()' });
    expect((await pruneExpiredKeys(tally, [alerted])).total).toBe(1);
    fail = false;
    expect(await commandCount('k_open')).toBe(1);
  });

  it('keeps records whose events a command_events consumer is still owed; prunes in bounded chunks', async () => {
    const batch = tally.command('k_batch', {
      fingerprint: (i: { n: number }) => i,
      keyRetention: 60_000,
      steps: [{ name: 'a', run: () => 1 }],
    });
    const consumer = await openConsumer(tally, 'k_events', { source: 'command_events' });
    for (let i = 0; i < 5; i++) await batch.submit({ key: `k${i}`, principal: 'u1', input: { n: i } });
    clock.advance(2 * 60_000);
    expect((await pruneExpiredKeys(tally, [batch])).total).toBe(0); // the consumer has not read them
    while ((await consumer.once(async () => {})) > 0) {}
    await consumer.release();
    const part = await pruneExpiredKeys(tally, [batch], { chunk: 2, maxChunks: 2 });
    expect(part).toEqual({ deleted: { k_batch: 4 }, intakeDeleted: 0, total: 4, chunks: 2, done: false });
    expect(await pruneExpiredKeys(tally, [{ type: 'k_batch', keyRetention: '1m' }], { chunk: 2 })).toEqual({
      deleted: { k_batch: 1 },
      intakeDeleted: 0,
      total: 1,
      chunks: 1,
      done: true,
    });
    expect(await commandCount('k_batch')).toBe(0);
    await dropConsumer(tally, 'k_events'); // later records owe it nothing
  });

  it('tally.prune() covers every declared type; a worker prunes beside its rounds, at most every everyMs', async () => {
    const def = {
      fingerprint: (i: { n: number }) => i,
      keyRetention: '1m',
      steps: [{ name: 'a', run: () => 1 }],
    };
    const tp = tally.command('k_tp', def);
    const w = tally.command('k_w', def);
    await tp.submit({ key: 'a', principal: 'u1', input: { n: 1 } });
    await tp.submit({ key: 'b', principal: 'u1', input: { n: 2 } });
    clock.advance(2 * 60_000);
    expect(await tally.prune()).toMatchObject({ deleted: { k_tp: 2 }, done: true });
    expect(await commandCount('k_tp')).toBe(0);

    const worker = tally.worker({ prune: { everyMs: 5 * 60_000, unreconciledCalls: 'prune' } });
    await w.submit({ key: 'w1', principal: 'u1', input: { n: 1 } });
    clock.advance(2 * 60_000);
    await worker.runOnce();
    expect(await w.get({ key: 'w1', principal: 'u1' })).toBeNull();
    await w.submit({ key: 'w2', principal: 'u1', input: { n: 2 } });
    clock.advance(2 * 60_000);
    await worker.runOnce(); // expired, but the last pass was 2 minutes ago: not due
    expect(await w.get({ key: 'w2', principal: 'u1' })).not.toBeNull();
    clock.advance(4 * 60_000);
    await worker.runOnce();
    expect(await w.get({ key: 'w2', principal: 'u1' })).toBeNull();
  });

  it('over HTTP: an expired key replays its recorded answer until pruned, then is a new request', async () => {
    const note = tally.command('k_http', {
      fingerprint: (i: { text: string }) => i,
      keyRetention: '1h',
      steps: [{ name: 'write', run: () => count('k_http') }],
    });
    const app = Fastify();
    try {
      await app.register(tallyFastify);
      app.post('/notes', idempotent(note, { principal: () => 'u1' }));
      await app.ready();
      const post = () =>
        app.inject({
          method: 'POST',
          url: '/notes',
          payload: { text: 'hi' },
          headers: { 'idempotency-key': 'n1' },
        });
      const first = await post();
      expect(first.statusCode).toBe(200);
      clock.advance(2 * HOUR);
      const expired = await post();
      expect([expired.statusCode, expired.body, expired.headers['idempotent-replayed']]).toEqual([
        200,
        first.body,
        'true',
      ]);
      expect(runs.k_http).toBe(1);
      await pruneExpiredKeys(tally, [note]);
      const anew = await post();
      expect([anew.statusCode, anew.headers['idempotent-replayed']]).toEqual([200, undefined]);
      expect(anew.body).not.toBe(first.body);
      expect(runs.k_http).toBe(2);
    } finally {
      await app.close();
    }
  });
});

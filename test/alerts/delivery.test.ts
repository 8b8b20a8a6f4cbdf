import { afterAll, beforeAll, expect, it } from 'vitest';
import { claimDeliveriesSql } from '../../src/commands/alert-delivery-sql.js';
import { isTallyError } from '../../src/errors.js';
import { createTally, type Tally } from '../../src/tally.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { startReceiver } from './support/receiver.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

/** A command the worker gave up on (one attempt, the reply lost): `needs_attention`, with its alert. */
async function stranded(fx: RedeemFixture): Promise<string> {
  fx.prizes.faults.loseReplyNext = 1;
  const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
  expect(r.status).toBe('needs_attention');
  return r.id;
}

describeEachDialect('alerts reach a person: the webhook', (fresh) => {
  let t: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const opened: Tally[] = [];
  beforeAll(async () => {
    t = await fresh();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const x of opened) await x.alerts.close();
    await receiver?.close();
    await t?.close();
  });

  // A second Tally on the same database, with delivery configured (as an operator's worker would be).
  const deliverer = async (fx: RedeemFixture, extra: object = {}) => {
    const tally = await createTally({
      db: t.db,
      clock: fx.clock.now,
      alerts: {
        webhook: { url: receiver.url, headers: { authorization: 'Bearer s3cret' }, timeoutMs: 4000 },
        retry: { initialMs: 1000, maxMs: 60_000 },
        leaseMs: 10_000,
        ...extra,
      },
    });
    opened.push(tally);
    return tally;
  };

  it('500, timeout, then success: one delivery id, recorded attempts and errors, never re-sent after the ack', async () => {
    const fx = await redeemFixture(t.db, 'wa', { maxAttempts: 1 });
    const id = await stranded(fx);
    const tally = await deliverer(fx);
    const [alert] = await tally.alerts.list({ commandId: id });
    expect(alert).toMatchObject({ kind: 'needs_attention' });
    // The outbox row was written with the alert, before anything was sent.
    const [pending] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(pending).toMatchObject({ status: 'pending', attempts: 0, acked: [], lastError: null });

    receiver.state.mode = 'fail';
    expect(await tally.alerts.deliver()).toEqual({ attempted: 1, delivered: 0, failed: 1, skipped: 0 });
    let [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'pending', attempts: 1, lastError: 'webhook: HTTP 500' });
    expect(d!.nextAt).toEqual(new Date(fx.clock.now().getTime() + 1000));
    // Not due before its backoff ends.
    expect((await tally.alerts.deliver()).attempted).toBe(0);

    fx.clock.advance(1000);
    receiver.state.mode = 'hang';
    expect(await tally.alerts.deliver()).toMatchObject({ attempted: 1, failed: 1 });
    [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'pending', attempts: 2, lastError: 'webhook: timed out' });
    expect(d!.nextAt).toEqual(new Date(fx.clock.now().getTime() + 2000));

    fx.clock.advance(2000);
    receiver.state.mode = 'ok';
    expect(await tally.alerts.deliver()).toEqual({ attempted: 1, delivered: 1, failed: 0, skipped: 0 });
    [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, acked: ['webhook'] });
    expect(d!.doneAt).toEqual(fx.clock.now());

    // Three requests, one delivery id (header and body), the attempt numbered; the receiver kept it
    // twice (the hung one it processed, and the acknowledged one), deduped to one by the id.
    const mine = receiver.received.filter((r) => r.body.alert.id === alert!.id);
    expect(mine.map((r) => [r.answered, r.attempt])).toEqual([
      [500, '1'],
      ['hung', '2'],
      [200, '3'],
    ]);
    expect(new Set(mine.map((r) => r.deliveryId))).toEqual(new Set([d!.deliveryId]));
    expect(mine.every((r) => r.idempotencyKey === d!.deliveryId)).toBe(true);
    expect(mine.every((r) => r.authorization === 'Bearer s3cret')).toBe(true);
    expect([...receiver.unique.keys()].filter((k) => k === d!.deliveryId)).toHaveLength(1);
    expect(mine[2]!.body).toEqual({
      deliveryId: d!.deliveryId,
      attempt: 3,
      alert: {
        id: alert!.id,
        commandId: id,
        commandType: 'wa_redeem',
        kind: 'needs_attention',
        message: alert!.message,
        data: alert!.data,
        at: alert!.at.toISOString(),
      },
    });

    // Acknowledged: never sent again, however long the worker keeps running.
    fx.clock.advance(3_600_000);
    expect((await tally.alerts.deliver()).attempted).toBe(0);
    expect(receiver.received.filter((r) => r.body.alert.id === alert!.id)).toHaveLength(3);
  });

  it('a worker that died holding a delivery: taken over after its lease, sent again with the same id', async () => {
    const fx = await redeemFixture(t.db, 'wb', { maxAttempts: 1 });
    const id = await stranded(fx);
    const tally = await deliverer(fx);
    const [alert] = await tally.alerts.list({ commandId: id });
    // The dead worker claimed it (and maybe sent it: the receiver may have it) but recorded nothing.
    const now = fx.clock.now();
    const held = await t.db.query(
      claimDeliveriesSql('"tally"', {
        owner: 'worker:dead',
        now,
        until: new Date(now.getTime() + 5000),
        limit: 100,
      }),
    );
    expect(held.map((h) => h.alert_id)).toContain(alert!.id);
    receiver.state.mode = 'ok';
    expect((await tally.alerts.deliver()).attempted).toBe(0); // still held
    fx.clock.advance(5000);
    const pass = await tally.alerts.deliver();
    expect(pass).toMatchObject({ delivered: 1, failed: 0 });
    const [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'delivered', attempts: 2 });
    const mine = receiver.received.filter((r) => r.body.alert.id === alert!.id);
    expect(mine.map((r) => [r.deliveryId, r.attempt])).toEqual([[d!.deliveryId, '2']]);
  });

  it('a resolved alert is not delivered (again); the worker drives delivery beside its round', async () => {
    const fx = await redeemFixture(t.db, 'wc', { maxAttempts: 1 });
    const first = await stranded(fx);
    const tally = await deliverer(fx);
    const [a1] = await tally.alerts.list({ commandId: first });
    // Failed once, then a person resolves it before the retry: the retry is dropped.
    receiver.state.mode = 'fail';
    expect((await tally.alerts.deliver()).failed).toBe(1);
    await tally.actions.resolveAlert(a1!.id, { actor: 'ops:ana', reason: 'seen on the dashboard' });
    fx.clock.advance(60_000);
    receiver.state.mode = 'ok';
    expect(await tally.alerts.deliver()).toEqual({ attempted: 0, delivered: 0, failed: 0, skipped: 1 });
    expect((await tally.alerts.deliveries({ alertId: a1!.id }))[0]).toMatchObject({
      status: 'skipped',
      attempts: 1,
    });
    expect(receiver.received.filter((r) => r.body.alert.id === a1!.id)).toHaveLength(1);

    // A new alert: the worker's round delivers it (no command declared on this instance: still).
    const second = await stranded(fx);
    const [a2] = await tally.alerts.list({ commandId: second });
    const round = await tally.worker().runOnce();
    expect(round.alerts).toEqual({ attempted: 1, delivered: 1, failed: 0, skipped: 0 });
    expect(
      receiver.unique.get((await tally.alerts.deliveries({ alertId: a2!.id }))[0]!.deliveryId),
    ).toBeDefined();
    // A worker of an instance without delivery configured leaves the outbox alone.
    expect((await fx.tally.worker().runOnce()).alerts).toBeUndefined();
  });

  it('the outbox row commits with the alert or not at all', async () => {
    const fx = await redeemFixture(t.db, 'wd', { maxAttempts: 1 });
    const tally = await deliverer(fx);
    const before = (await tally.alerts.deliveries({ limit: 100_000 })).length;
    await t.db
      .transaction(async (tx) => {
        await tx.query({
          text: `INSERT INTO tally.command_alerts (command_type, kind, message, at) VALUES ('wd_x', 'test', 'm', now()),
                   ('wd_x', 'test', 'm2', now())`,
        });
        throw new Error('rolled back');
      })
      .catch(() => {});
    expect((await tally.alerts.deliveries({ limit: 100_000 })).length).toBe(before);
    await t.db.query({
      text: `INSERT INTO tally.command_alerts (command_type, kind, message, at) VALUES ('wd_x', 'test', 'm', now()),
               ('wd_x', 'test', 'm2', now())`,
    });
    expect((await tally.alerts.deliveries({ limit: 100_000 })).length).toBe(before + 2);
  });

  it('bad options: INVALID_CONFIG at construction; deliver() without delivery configured', async () => {
    const bad = async (alerts: unknown) => {
      try {
        await createTally({ db: t.db, alerts: alerts as never });
        return null;
      } catch (err) {
        return isTallyError(err) ? err.code : String(err);
      }
    };
    expect(await bad({})).toBe('INVALID_CONFIG');
    expect(await bad({ webhook: { url: 'ftp://x' } })).toBe('INVALID_CONFIG');
    expect(await bad({ webhook: { url: 'http://x', headers: { 'a b': 'c' } } })).toBe('INVALID_CONFIG');
    expect(await bad({ nats: { subject: 'a.*', servers: 'x:1' } })).toBe('INVALID_CONFIG');
    expect(await bad({ nats: { subject: 'a.b' } })).toBe('INVALID_CONFIG');
    expect(await bad({ webhook: { url: 'http://x', timeoutMs: 70_000 } })).toBe('INVALID_CONFIG');
    const plain = await createTally({ db: t.db });
    expect(() => plain.alerts.deliver()).toThrow(/alert delivery is off/);
  });
});

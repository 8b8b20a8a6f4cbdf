import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDeliveriesSql } from '../../src/commands/alert-delivery-sql.js';
import { createTally, type Tally } from '../../src/tally.js';
import { redeemFixture } from '../commands/support/redeem.js';
import {
  deleteStream,
  NATS_URL,
  natsAvailable,
  natsConnection,
  readStream,
  uniquePrefix,
  uniqueStream,
} from '../feed/support/nats.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

// The real broker at 4222 (JetStream on): alerts published on a subject, acknowledged by the stream,
// a re-send after a crash dropped by the stream's duplicate window (the delivery id is the message id).
describe.skipIf(!natsAvailable)('alerts reach a person: a NATS subject [nats]', () => {
  let t: TestDatabase;
  let nc: NatsConnection;
  const streams: string[] = [];
  const opened: Tally[] = [];
  beforeAll(async () => {
    t = await freshPGlite();
    nc = await natsConnection();
  });
  afterAll(async () => {
    for (const x of opened) await x.alerts.close();
    for (const s of streams) await deleteStream(nc, s);
    await nc?.close();
    await t?.close();
  });

  it('JetStream: no stream yet is a recorded failure; then stored once, a re-send deduped by the delivery id', async () => {
    const fx = await redeemFixture(t.db, 'na', { maxAttempts: 1 });
    fx.prizes.faults.loseReplyNext = 1;
    const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(r.status).toBe('needs_attention');
    const subject = `${uniquePrefix()}.alerts`;
    const tally = await createTally({
      db: t.db,
      clock: fx.clock.now,
      alerts: { nats: { subject, servers: NATS_URL, timeoutMs: 2000 }, leaseMs: 5000 },
    });
    opened.push(tally);
    const [alert] = await tally.alerts.list({ commandId: r.id });

    // Nothing captures the subject yet: JetStream has no responder, the attempt fails and is recorded.
    expect(await tally.alerts.deliver()).toMatchObject({ attempted: 1, failed: 1 });
    let [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'pending', attempts: 1 });
    expect(d!.lastError).toMatch(/^nats: /);

    const stream = uniqueStream('alerts');
    streams.push(stream);
    await (await nc.jetstreamManager()).streams.add({ name: stream, subjects: [subject] });
    fx.clock.advance(1000);
    expect(await tally.alerts.deliver()).toMatchObject({ attempted: 1, delivered: 1 });
    [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'delivered', attempts: 2, acked: ['nats'] });

    let messages = await readStream(nc, stream);
    expect(messages.map((m) => [m.subject, m.msgId])).toEqual([[subject, d!.deliveryId]]);
    expect(messages[0]!.body).toMatchObject({
      deliveryId: d!.deliveryId,
      attempt: 2,
      alert: { id: alert!.id, commandId: r.id, kind: 'needs_attention' },
    });

    // A worker that sent it and died before recording: simulated by putting the row back to pending
    // and held by a dead worker; after the hold it is sent again with the same id, and the stream
    // keeps one message.
    await t.db.query({
      text: `UPDATE tally.alert_deliveries SET status = 'pending', acked = '{}', done_at = NULL WHERE alert_id = $1`,
      values: [alert!.id],
    });
    const now = fx.clock.now();
    await t.db.query(
      claimDeliveriesSql('"tally"', {
        owner: 'worker:dead',
        now,
        until: new Date(now.getTime() + 5000),
        limit: 10,
      }),
    );
    fx.clock.advance(5000);
    expect(await tally.alerts.deliver()).toMatchObject({ attempted: 1, delivered: 1 });
    messages = await readStream(nc, stream);
    expect(messages.map((m) => m.msgId)).toEqual([d!.deliveryId]);
  });

  it('core NATS: a subscriber on the subject gets the alert', async () => {
    const fx = await redeemFixture(t.db, 'nb', { maxAttempts: 1 });
    const subject = `${uniquePrefix()}.alerts`;
    const sub = nc.subscribe(subject, { max: 1 });
    const got = (async () => {
      for await (const m of sub) return m.json<{ deliveryId: string; alert: { commandId: string } }>();
      return null;
    })();
    fx.prizes.faults.loseReplyNext = 1;
    const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    const tally = await createTally({
      db: t.db,
      clock: fx.clock.now,
      alerts: { nats: { subject, connection: nc, jetstream: false } },
    });
    opened.push(tally);
    // Earlier tests' alerts are delivered already or belong to other instances' channels: only this one is due.
    const pass = await tally.alerts.deliver();
    expect(pass.delivered).toBeGreaterThanOrEqual(1);
    const m = await got;
    expect(m?.alert.commandId).toBe(r.id);
    const [alert] = await tally.alerts.list({ commandId: r.id });
    const [d] = await tally.alerts.deliveries({ alertId: alert!.id });
    expect(d).toMatchObject({ status: 'delivered', acked: ['nats'], deliveryId: m!.deliveryId });
    // A connection passed in is the caller's: closing the instance's delivery leaves it open.
    await tally.alerts.close();
    expect(nc.isClosed()).toBe(false);
  });
});

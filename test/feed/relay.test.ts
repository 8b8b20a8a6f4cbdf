import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { connectNats, startRelay } from '../../src/feed/nats/index.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture } from '../support/resources.js';
import { tcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';
import {
  deleteStream,
  natsAvailable,
  natsConnection,
  readStream,
  uniquePrefix,
  uniqueStream,
} from './support/nats.js';

describe.skipIf(!natsAvailable)('relay to JetStream', () => {
  let nc: NatsConnection;
  const streams: string[] = [];
  beforeAll(async () => {
    nc = await natsConnection();
  });
  afterAll(async () => {
    for (const s of streams) await deleteStream(nc, s);
    await nc?.close();
  });

  describeEachDialect('in-process', (fresh) => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await fresh();
    });
    afterAll(async () => {
      await t?.close();
    });

    it('publishes every log entry once, on a subject per entity type, in commit order per entity', async () => {
      const { tally, resources } = await resourcesFixture(t.db, 300);
      await resources.transition({
        keys: Array.from({ length: 200 }, (_, i) => i + 1),
        to: 'frozen',
        actor: 'a',
      });
      const stream = uniqueStream('rel');
      streams.push(stream);
      const prefix = uniquePrefix();
      const batches: number[] = [];
      const ackProblems: string[] = [];
      const relay = await startRelay({
        tally,
        nats: nc,
        stream,
        prefix,
        sources: ['log'],
        batchSize: 64,
        pollMs: 20,
        onBatch: (b) => {
          batches.push(b.entries.length);
          // Each entry's own ack time, in entry order, none after the batch's last ack.
          if (b.ackTimes.length !== b.entries.length) ackProblems.push(`${b.ackTimes.length} ack times`);
          if (!b.ackTimes.every((at) => at > 0 && at <= b.ackedAt)) ackProblems.push('ack time out of range');
        },
      });
      try {
        // Entries committed while the relay runs are picked up too.
        await resources.transition({ keys: [1, 2, 3], to: 'active', actor: 'b' });
        await resources.update({ keys: [250], set: { owner: 'z' }, actor: 'c' });
        const total = await count(t.db, `SELECT 1 FROM ${tally.config.s}.log`);
        expect(total).toBe(204);
        await until(
          'the stream to fill',
          async () => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages >= total,
          30_000,
        );
        await new Promise((r) => setTimeout(r, 200)); // nothing more arrives
        const msgs = await readStream(nc, stream);
        expect(msgs).toHaveLength(total);
        expect(new Set(msgs.map((m) => m.msgId)).size).toBe(total);
        const ids = (
          await t.db.query<{ id: string }>({ text: `SELECT id::text FROM ${tally.config.s}.log ORDER BY id` })
        ).map((r) => `log-${r.id}`);
        expect(new Set(msgs.map((m) => m.msgId))).toEqual(new Set(ids));
        expect(new Set(msgs.map((m) => m.subject))).toEqual(new Set([`${prefix}.tally.log.resource`]));
        const one = msgs.filter((m) => m.body.entry.entity_key === '1').map((m) => m.body.entry.version);
        expect(one).toEqual([1, 2]);
        expect(Math.max(...batches)).toBeLessThanOrEqual(64);
        expect(ackProblems).toEqual([]);
        expect(relay.stats.stored).toBe(total);
      } finally {
        await relay.stop();
      }
    });
  });

  it('relays command events on a subject per command type, dotted types included', async () => {
    const t = await (await import('../support/databases.js')).freshPGlite();
    const stream = uniqueStream('cmd');
    streams.push(stream);
    const prefix = uniquePrefix();
    try {
      const { tally } = await resourcesFixture(t.db, 1);
      const s = tally.config.s;
      // Two commands' records and events, written as the commands module writes them.
      await t.db.exec(`
        INSERT INTO ${s}.commands (id, type, principal, key, fingerprint, params, input, next_at, created_at, updated_at)
        VALUES ('00000000-0000-7000-8000-000000000001', 'redeem', 'u1', 'k1', 'f', '{}', '{}', now(), now(), now()),
               ('00000000-0000-7000-8000-000000000002', 'points.refund', 'u1', 'k2', 'f', '{}', '{}', now(), now(), now());
        INSERT INTO ${s}.command_events (command_id, kind, data, at)
        VALUES ('00000000-0000-7000-8000-000000000001', 'received', '{"qty":1}', now()),
               ('00000000-0000-7000-8000-000000000002', 'received', null, now()),
               ('00000000-0000-7000-8000-000000000001', 'succeeded', null, now());`);
      const relay = await startRelay({ tally, nats: nc, stream, prefix, pollMs: 20 });
      try {
        await until(
          'the stream to fill',
          async () => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages >= 3,
          30_000,
        );
      } finally {
        await relay.stop();
      }
      const msgs = await readStream(nc, stream);
      expect(msgs.map((m) => [m.subject, m.msgId])).toEqual([
        [`${prefix}.tally.commands.redeem`, 'command_events-1'],
        [`${prefix}.tally.commands.points.refund`, 'command_events-2'],
        [`${prefix}.tally.commands.redeem`, 'command_events-3'],
      ]);
      expect(msgs[0]!.body.entry).toMatchObject({
        kind: 'received',
        data: { qty: 1 },
        command_type: 'redeem',
      });
    } finally {
      await t.close();
    }
  });

  it('rejects bad options with typed errors before touching anything', async () => {
    const t = await (await import('../support/databases.js')).freshPGlite();
    try {
      const { tally } = await resourcesFixture(t.db, 1);
      const cases: [Record<string, unknown>, string][] = [
        [{ stream: 'a.b' }, 'INVALID_NATS_NAME'],
        [{ prefix: 'x y' }, 'INVALID_NATS_NAME'],
        [{ prefix: '>' }, 'INVALID_NATS_NAME'],
        [{ sources: [] }, 'INVALID_RELAY_OPTIONS'],
        [{ sources: ['nope'] }, 'INVALID_RELAY_OPTIONS'],
        [{ duplicateWindowMs: 5 }, 'INVALID_RELAY_OPTIONS'],
        [{ maxInFlight: 0 }, 'INVALID_RELAY_OPTIONS'],
        [{ nats: {} }, 'INVALID_RELAY_OPTIONS'],
      ];
      for (const [extra, code] of cases) {
        const err = await startRelay({ tally, nats: nc, ...extra } as never).catch((e) => e);
        expect(isTallyError(err, code as never), `${JSON.stringify(extra)} -> ${err?.code}`).toBe(true);
      }
      // Nothing was created: no feed consumer row, no stream.
      expect(await count(t.db, `SELECT 1 FROM ${tally.config.s}.feed_consumers`)).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('connecting to a NATS that does not answer fails with NATS_UNREACHABLE', async () => {
    const proxy = await tcpProxy({ host: '127.0.0.1', port: 4222 });
    proxy.cut('refuse');
    try {
      const err = await connectNats(`127.0.0.1:${proxy.port}`, { timeoutMs: 1000 }).catch((e) => e);
      expect(isTallyError(err, 'NATS_UNREACHABLE')).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('keeps every entry, once, across a NATS outage mid-stream', async () => {
    const t = await (await import('../support/databases.js')).freshPGlite();
    const [host, port] = (process.env.NATS_URL ?? '127.0.0.1:4222').replace(/^nats:\/\//, '').split(':');
    const proxy = await tcpProxy({ host: host!, port: Number(port) });
    const viaProxy = await connectNats(`127.0.0.1:${proxy.port}`, { reconnectTimeWait: 100 });
    const stream = uniqueStream('outage');
    streams.push(stream);
    const errors: unknown[] = [];
    try {
      const { tally, resources } = await resourcesFixture(t.db, 1000);
      const relay = await startRelay({
        tally,
        nats: viaProxy,
        stream,
        prefix: uniquePrefix(),
        sources: ['log'],
        batchSize: 50,
        pollMs: 20,
        publishTimeoutMs: 500,
        onError: (e) => errors.push(e),
      });
      try {
        for (let i = 0; i < 10; i++) {
          await resources.transition({
            keys: Array.from({ length: 100 }, (_, j) => i * 100 + j + 1),
            to: 'frozen',
            actor: 'w',
          });
          if (i === 3) proxy.cut('refuse');
          if (i === 6) {
            await new Promise((r) => setTimeout(r, 1500)); // publishes time out meanwhile
            proxy.restore();
          }
          await new Promise((r) => setTimeout(r, 30));
        }
        await until(
          'the stream to fill',
          async () => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages >= 1000,
          30_000,
        );
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await relay.stop();
      }
      const msgs = await readStream(nc, stream);
      expect(msgs).toHaveLength(1000);
      expect(new Set(msgs.map((m) => m.msgId)).size).toBe(1000);
      expect(errors.some((e) => isTallyError(e, 'NATS_UNREACHABLE'))).toBe(true);
    } finally {
      await viaProxy.close();
      await proxy.close();
      await t.close();
    }
  });
});

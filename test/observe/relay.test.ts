import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay } from '../../src/feed/nats/index.js';
import { createTally } from '../../src/tally.js';
import {
  deleteStream,
  natsAvailable,
  natsConnection,
  uniquePrefix,
  uniqueStream,
} from '../feed/support/nats.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES, resourcesFixture } from '../support/resources.js';
import { until } from '../support/until.js';
import { memoryTracing } from './support/otel.js';

// A NATS relay's publishes, counted and traced (decision 0140), against the local JetStream.
describe.skipIf(!natsAvailable)('metrics and traces of relay publishes', () => {
  let nc: NatsConnection;
  let t: TestDatabase;
  const stream = uniqueStream('obs');
  beforeAll(async () => {
    nc = await natsConnection();
    t = await freshPGlite();
  });
  afterAll(async () => {
    await deleteStream(nc, stream);
    await nc?.close();
    await t?.close();
  });

  it('counts publishes and entries per relay and spans each publish as a PRODUCER', async () => {
    await resourcesFixture(t.db, 5);
    const registry = new Registry();
    const { exporter, tracer } = memoryTracing();
    const tally = await createTally({ db: t.db, observe: { metrics: registry, tracing: tracer } });
    const res = tally.entity('resource', { table: 'resources', states: RESOURCE_STATES });
    await res.update({ keys: [1, 2, 3, 4, 5], set: { amount: 1 }, actor: 'test' });
    const relay = await startRelay({
      tally,
      nats: nc,
      stream,
      prefix: uniquePrefix(),
      sources: ['log'],
      batchSize: 2,
      pollMs: 20,
    });
    try {
      await until('the relay to publish all 5', async () => relay.stats.stored >= 5, 20_000);
    } finally {
      await relay.stop();
    }
    const text = await registry.metrics();
    const entries = /tally_relay_entries_total\{relay="([^"]+)"\} (\d+)/.exec(text);
    expect(Number(entries?.[2])).toBe(5);
    expect(text).toMatch(/tally_relay_publishes_total\{relay="[^"]+"\} 3/);
    const sends = exporter.getFinishedSpans().filter((s) => s.name === `send ${stream}`);
    expect(sends.map((s) => s.attributes['messaging.batch.message_count'])).toEqual([2, 2, 1]);
    expect(sends[0]!.attributes['messaging.system']).toBe('nats');
  });
});

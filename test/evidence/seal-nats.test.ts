import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSealKey, signCheckpoint, toBase64 } from '../../src/evidence/index.js';
import { checkpointDeliveryId, SinkFanout } from '../../src/evidence/sink.js';
import { natsCheckpointSink } from '../../src/feed/nats/index.js';
import { deleteStream, NATS_URL, natsAvailable, natsConnection, uniqueStream } from '../feed/support/nats.js';

const KEY = generateSealKey();
const note = (size: number, prev: string | null = null) =>
  signCheckpoint(
    {
      origin: 'tally nats-sink-test',
      treeSize: size,
      rootHash: toBase64(new Uint8Array(32).fill(size)),
      time: '2026-12-07T09:00:00.000Z',
      previousCheckpointHash: prev,
    },
    KEY,
  );

describe.skipIf(!natsAvailable)('evidence: the NATS JetStream checkpoint sink', () => {
  let nc: NatsConnection;
  const stream = uniqueStream('cp');
  const subject = `tally.test.cp.${stream.toLowerCase()}`;

  beforeAll(async () => {
    nc = await natsConnection();
  });
  afterAll(async () => {
    await deleteStream(nc, stream);
    await nc.close();
  });

  it('publishes with the delivery id as message id, reads the newest back, and the stream refuses deletes', async () => {
    const sink = natsCheckpointSink({ nc, subject, stream });
    expect(await sink.latest()).toBeNull();
    const [a, b] = [note(3), note(5)];
    await sink.publish(a);
    await sink.publish(a); // dropped inside the duplicate window: same Nats-Msg-Id
    await sink.publish(b);
    expect(await sink.latest()).toBe(b);
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    expect(info.state.messages).toBe(2);
    expect(info.config).toMatchObject({ deny_delete: true, deny_purge: true, subjects: [subject] });
    const first = await jsm.streams.getMessage(stream, { seq: 1 });
    expect(first.header.get('Nats-Msg-Id')).toBe(checkpointDeliveryId(a));
    await expect(jsm.streams.deleteMessage(stream, 1)).rejects.toThrow();
    await expect(jsm.streams.purge(stream)).rejects.toThrow();
    // Read back by a sink that names no stream: it finds the one that captures the subject.
    const reader = natsCheckpointSink({ servers: NATS_URL, subject });
    try {
      expect(await reader.latest()).toBe(b);
    } finally {
      await reader.close?.();
    }
  });

  it('a broker that does not answer is reported by the fanout, not thrown; bad options are refused', async () => {
    const away = natsCheckpointSink({ servers: '127.0.0.1:1', subject, timeoutMs: 500 });
    const report = await new SinkFanout([away]).publish(note(7));
    expect(report).toMatchObject({
      published: false,
      failed: [{ sink: `nats:${subject}`, error: { code: 'NATS_UNREACHABLE' } }],
    });
    await away.close?.();
    expect(() => natsCheckpointSink({ nc, subject: 'tally.*' })).toThrow(/no wildcards/);
    expect(() => natsCheckpointSink({ subject })).toThrow(/exactly one of nc and servers/);
  });
});

import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import {
  messageId,
  streamName,
  streamSubjects,
  subjectFor,
  subjectToken,
} from '../../src/feed/nats/names.js';
import { publishEntries } from '../../src/feed/nats/publish.js';
import { ensureStream, nanos } from '../../src/feed/nats/stream.js';
import type { FeedEntry } from '../../src/feed/types.js';
import {
  deleteStream,
  natsAvailable,
  natsConnection,
  readStream,
  uniquePrefix,
  uniqueStream,
} from './support/nats.js';

function logEntry(id: number, type = 'resource'): FeedEntry {
  return {
    source: 'log',
    id: String(id),
    txid: String(1000 + id),
    entry: {
      id: String(id),
      entity_type: type,
      entity_key: String(id % 7),
      version: 1,
      action: 'transition',
      actor: 'test',
      source_ip: null,
      reason: null,
      request_id: null,
      command_id: null,
      before: { state: 'active' },
      after: { state: 'frozen' },
      changed: ['state'],
      at: new Date(0),
      txid: String(1000 + id),
      prev_hash: null,
      hash: 'x',
    },
  };
}

describe('NATS names', () => {
  it('builds subjects per source and type, and stable message ids', () => {
    expect(subjectFor('tally', 'app', logEntry(1))).toBe('tally.app.log.resource');
    expect(streamSubjects('tally', 'app', ['log', 'command_events'])).toEqual([
      'tally.app.log.>',
      'tally.app.commands.>',
    ]);
    expect(messageId(logEntry(42))).toBe('log-42');
  });

  it('rejects tokens and stream names NATS would misread, with INVALID_NATS_NAME', () => {
    for (const bad of ['a.b', 'a b', '*', '>', '', 'x>', 'é']) {
      expect(() => subjectToken(bad, 'prefix')).toThrowError(
        expect.objectContaining({ code: 'INVALID_NATS_NAME' }),
      );
    }
    for (const bad of ['A.B', 'a/b', 'a b', 'x*', '', 'a'.repeat(65)]) {
      expect(() => streamName(bad)).toThrowError(expect.objectContaining({ code: 'INVALID_NATS_NAME' }));
    }
    const weird = logEntry(1, 'bad type*');
    expect(() => subjectFor('tally', 'app', weird)).toThrowError(
      expect.objectContaining({ code: 'INVALID_NATS_NAME' }),
    );
  });
});

describe.skipIf(!natsAvailable)('JetStream stream and publish', () => {
  let nc: NatsConnection;
  const created: string[] = [];
  beforeAll(async () => {
    nc = await natsConnection();
  });
  afterAll(async () => {
    for (const s of created) await deleteStream(nc, s);
    await nc?.close();
  });

  it('creates the stream with the duplicate window, widens it later, never narrows it', async () => {
    const name = uniqueStream('win');
    created.push(name);
    const prefix = uniquePrefix();
    const jsm = await nc.jetstreamManager();
    const a = await ensureStream(jsm, { name, subjects: streamSubjects(prefix, 's', ['log']) });
    expect(a.config.duplicate_window).toBe(nanos(15 * 60_000));
    const b = await ensureStream(jsm, {
      name,
      subjects: streamSubjects(prefix, 's', ['log', 'command_events']),
      duplicateWindowMs: 3_600_000,
    });
    expect(b.config.duplicate_window).toBe(nanos(3_600_000));
    expect(b.config.subjects).toEqual([`${prefix}.s.log.>`, `${prefix}.s.commands.>`]);
    const c = await ensureStream(jsm, { name, subjects: [`${prefix}.s.log.>`], duplicateWindowMs: 60_000 });
    expect(c.config.duplicate_window).toBe(nanos(3_600_000));
  });

  it('refuses a second stream over the same subjects with NATS_STREAM_CONFLICT', async () => {
    const prefix = uniquePrefix();
    const first = uniqueStream('c1');
    const second = uniqueStream('c2');
    created.push(first, second);
    const jsm = await nc.jetstreamManager();
    await ensureStream(jsm, { name: first, subjects: streamSubjects(prefix, 's', ['log']) });
    const err = await ensureStream(jsm, {
      name: second,
      subjects: streamSubjects(prefix, 's', ['log']),
    }).catch((e) => e);
    expect(isTallyError(err, 'NATS_STREAM_CONFLICT')).toBe(true);
  });

  it('rejects a duplicate window outside 1 s .. 7 days with INVALID_RELAY_OPTIONS', async () => {
    const jsm = await nc.jetstreamManager();
    const err = await ensureStream(jsm, {
      name: uniqueStream('w'),
      subjects: ['x.>'],
      duplicateWindowMs: 10,
    }).catch((e) => e);
    expect(isTallyError(err, 'INVALID_RELAY_OPTIONS')).toBe(true);
  });

  it('publishes pipelined, in order; a second publish of the same entries stores nothing', async () => {
    const name = uniqueStream('pub');
    created.push(name);
    const prefix = uniquePrefix();
    await ensureStream(await nc.jetstreamManager(), { name, subjects: streamSubjects(prefix, 's', ['log']) });
    const entries = Array.from({ length: 500 }, (_, i) => logEntry(i + 1, i % 2 ? 'resource' : 'account'));
    const opts = { prefix, schema: 's', stream: name, maxInFlight: 64, timeoutMs: 5000 };
    const t0 = performance.timeOrigin + performance.now();
    const r1 = await publishEntries(nc, entries, opts);
    const t1 = performance.timeOrigin + performance.now();
    expect({ stored: r1.stored, duplicates: r1.duplicates }).toEqual({ stored: 500, duplicates: 0 });
    // Every entry has its own ack time, inside the publish call.
    expect(r1.ackTimes).toHaveLength(500);
    expect(r1.ackTimes.every((t) => t >= t0 && t <= t1)).toBe(true);
    const r2 = await publishEntries(nc, entries.slice(100, 300), opts);
    expect({ stored: r2.stored, duplicates: r2.duplicates }).toEqual({ stored: 0, duplicates: 200 });
    expect(r2.ackTimes.every((t) => t >= t1)).toBe(true);
    const msgs = await readStream(nc, name);
    expect(msgs.map((m) => m.msgId)).toEqual(entries.map((e) => `log-${e.id}`));
    expect(msgs[0]!.subject).toBe(`${prefix}.s.log.account`);
    expect(msgs[1]!.body.entry.after).toEqual({ state: 'frozen' });
  });

  it('a publish captured by another stream than expected is refused: NATS_PUBLISH_FAILED', async () => {
    const name = uniqueStream('exp');
    created.push(name);
    const prefix = uniquePrefix();
    await ensureStream(await nc.jetstreamManager(), { name, subjects: streamSubjects(prefix, 's', ['log']) });
    const err = await publishEntries(nc, [logEntry(1)], {
      prefix,
      schema: 's',
      stream: 'SOME_OTHER_STREAM',
      maxInFlight: 8,
      timeoutMs: 2000,
    }).catch((e) => e);
    expect(isTallyError(err, 'NATS_PUBLISH_FAILED')).toBe(true);
    expect((await (await nc.jetstreamManager()).streams.info(name)).state.messages).toBe(0);
  });

  it('a publish no stream captures fails with a typed error and does not resolve', async () => {
    const entries = [logEntry(1)];
    const err = await publishEntries(nc, entries, {
      prefix: uniquePrefix(),
      schema: 's',
      stream: 'NOPE',
      maxInFlight: 8,
      timeoutMs: 2000,
    }).catch((e) => e);
    expect(isTallyError(err, 'NATS_UNREACHABLE')).toBe(true);
  });
});

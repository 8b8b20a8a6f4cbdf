import type { NatsConnection } from 'nats';
import { observedPublish } from '../../observe/relay.js';
import type { Tally } from '../../tally.js';
import { type FeedConsumer, openConsumer } from '../consumer.js';
import type { FeedBatch, FeedSource } from '../types.js';
import { streamSubjects } from './names.js';
import { type RelayOptions, type ResolvedRelayOptions, resolveRelayOptions } from './options.js';
import { AckedPublisher } from './publish.js';
import { ensureStream, natsFailure } from './stream.js';

/** Counters of a running relay. */
export interface RelayStats {
  /** Batches stored and checkpointed. */
  batches: number;
  /** Entries the stream stored, and re-published entries it dropped as duplicates. */
  stored: number;
  duplicates: number;
  /** Failures retried (publishing or reading the feed). */
  errors: number;
}

export interface Relay {
  /** The stream the relay publishes into. */
  readonly stream: string;
  /** `<prefix>.<schema>.log.>` and/or `<prefix>.<schema>.commands.>`. */
  readonly subjects: readonly string[];
  readonly stats: Readonly<RelayStats>;
  /** Finishes the batch in hand (published and checkpointed), then stops. The NATS connection stays open. */
  stop(): Promise<void>;
}

// After a failure (NATS away, database away) the relay waits and reads the same batch again.
const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 5_000;

/**
 * Starts relaying the feed to NATS JetStream: one feed consumer per source, whose handler publishes each
 * batch pipelined, awaits every ack and only then lets the checkpoint advance. Each message id is
 * `<source>-<id>`, so the broker drops what a crashed relay had already published (inside the stream's
 * duplicate window). Failures are reported to `onError` and retried with backoff; nothing is skipped.
 *
 * @example
 * import { connect } from 'nats';
 * import { startRelay } from 'tally/nats';
 * const relay = await startRelay({ tally, nats: await connect({ servers: '127.0.0.1:4222' }) });
 * // ... on shutdown:
 * await relay.stop();
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const o = resolveRelayOptions(options);
  const subjects = streamSubjects(o.prefix, o.schema, o.sources);
  if (o.ensureStream) {
    const jsm = await options.nats.jetstreamManager().catch((err) => {
      throw natsFailure(err, 'opening JetStream');
    });
    await ensureStream(jsm, {
      name: o.stream,
      subjects,
      duplicateWindowMs: o.duplicateWindowMs,
      description: `Tally schema ${o.schema}: operation log and command events, relayed in commit order`,
    });
  }
  const consumers = await Promise.all(
    o.sources.map((source) =>
      openConsumer(options.tally as Tally, `${o.name}:${source}`, {
        source,
        batchSize: o.batchSize,
        minBatchSize: o.minBatchSize,
        ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
        pollMs: o.pollMs,
        ...(options.listen === undefined ? {} : { listen: options.listen }),
      }),
    ),
  );
  const stats: RelayStats = { batches: 0, stored: 0, duplicates: 0, errors: 0 };
  const abort = new AbortController();
  const loops = consumers.map((c) => relayLoop(c, options.nats, o, options, stats, abort.signal));
  return {
    stream: o.stream,
    subjects,
    stats,
    async stop() {
      abort.abort();
      await Promise.all(loops);
    },
  };
}

async function relayLoop(
  consumer: FeedConsumer,
  nc: NatsConnection,
  o: ResolvedRelayOptions,
  options: RelayOptions,
  stats: RelayStats,
  signal: AbortSignal,
): Promise<void> {
  const source: FeedSource = consumer.source;
  let backoff = BACKOFF_MIN_MS;
  const publisher = new AckedPublisher(nc);
  const obs = (options.tally as Tally).config.observer;
  const handler = async (batch: FeedBatch) => {
    const publish = () =>
      publisher.publish(batch.entries, {
        prefix: o.prefix,
        schema: o.schema,
        stream: o.stream,
        maxInFlight: o.maxInFlight,
        timeoutMs: o.publishTimeoutMs,
      });
    const n = batch.entries.length;
    const r = await (obs.on ? observedPublish(obs, o.name, o.stream, n, publish) : publish());
    const ackedAt = performance.timeOrigin + performance.now();
    stats.batches++;
    stats.stored += r.stored;
    stats.duplicates += r.duplicates;
    backoff = BACKOFF_MIN_MS;
    await options.onBatch?.({ source, entries: batch.entries, ...r, ackedAt });
  };
  while (!signal.aborted) {
    try {
      // Returns when the signal aborts; throws when a batch failed (it is delivered again).
      await consumer.run(handler, { signal });
    } catch (err) {
      stats.errors++;
      try {
        options.onError?.(err);
      } catch {
        // A failing error callback must not stop the relay.
      }
      await sleep(backoff, signal);
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }
  publisher.close();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

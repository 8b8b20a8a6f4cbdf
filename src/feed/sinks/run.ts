import { TallyError } from '../../errors.js';
import { type FeedConsumer, type HasTallyConfig, openConsumer } from '../consumer.js';
import { SOURCES } from '../position.js';
import type { FeedBatch, FeedSource } from '../types.js';
import type { WakeSource } from '../wake.js';

/** What `startSink` needs of a sink: a name and a batch writer that resolves once the batch is durable. */
export interface SinkLike {
  readonly name: string;
  write(batch: FeedBatch): Promise<{ added: number; skipped: number; retries: number }>;
  /** Stops a write waiting for an unreachable target. */
  close(): void;
}

export interface SinkRunOptions {
  /** Sources to ship. Default `['log']`. One feed consumer per source, named `<sink name>:<source>`. */
  readonly sources?: readonly FeedSource[];
  readonly batchSize?: number;
  readonly leaseMs?: number;
  readonly pollMs?: number;
  /** NOTIFY wake-ups: the source's `pg` Pool or PGlite instance. */
  readonly listen?: WakeSource;
  /** Told after each batch is durable in the target (before the source checkpoint moves). */
  readonly onBatch?: (info: {
    source: FeedSource;
    entries: number;
    added: number;
    skipped: number;
    retries: number;
  }) => void;
  /** Told about failures the runner retries (anything but the target being away, which the sink retries). */
  readonly onError?: (err: unknown) => void;
}

export interface SinkStats {
  batches: number;
  added: number;
  skipped: number;
  retries: number;
  errors: number;
}

export interface RunningSink {
  readonly stats: Readonly<SinkStats>;
  /** Finishes the batch in hand (or gives up waiting for an unreachable target), then stops. */
  stop(): Promise<void>;
}

const BACKOFF_MAX_MS = 5_000;

/**
 * Ships the feed into a sink after commit: a durable feed consumer per source hands each batch to
 * `sink.write`, and its checkpoint moves only once the batch is durable in the target. A crash between
 * the two commits delivers the batch again, which the sink absorbs (the PostgreSQL sink skips rows it
 * already has), so every row arrives exactly once.
 *
 * @example
 * const sink = postgresSink({ target: postgres(targetPool) });
 * await sink.setup();
 * const running = await startSink(tally, sink, { sources: ['log'] });
 * // ... on shutdown:
 * await running.stop();
 */
export async function startSink(
  tally: HasTallyConfig,
  sink: SinkLike,
  options: SinkRunOptions = {},
): Promise<RunningSink> {
  if (!sink || typeof sink.write !== 'function' || typeof sink.close !== 'function') {
    throw new TallyError(
      'INVALID_SINK_OPTIONS',
      'sink must have write(batch) and close(), e.g. postgresSink(...)',
    );
  }
  const sources = options.sources ?? ['log'];
  if (!Array.isArray(sources) || sources.length === 0 || !sources.every((s) => SOURCES.includes(s))) {
    throw new TallyError(
      'INVALID_SINK_OPTIONS',
      `options.sources must be a non-empty list of ${SOURCES.join(', ')}`,
    );
  }
  const consumers = await Promise.all(
    [...new Set(sources)].map((source) =>
      openConsumer(tally, `${sink.name}:${source}`, {
        source,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
        ...(options.listen === undefined ? {} : { listen: options.listen }),
      }),
    ),
  );
  const stats: SinkStats = { batches: 0, added: 0, skipped: 0, retries: 0, errors: 0 };
  const abort = new AbortController();
  const loops = consumers.map((c) => sinkLoop(c, sink, options, stats, abort.signal));
  return {
    stats,
    async stop() {
      abort.abort();
      sink.close();
      await Promise.all(loops);
    },
  };
}

async function sinkLoop(
  consumer: FeedConsumer,
  sink: SinkLike,
  options: SinkRunOptions,
  stats: SinkStats,
  signal: AbortSignal,
): Promise<void> {
  let backoff = 100;
  const handler = async (batch: FeedBatch) => {
    const r = await sink.write(batch);
    stats.batches++;
    stats.added += r.added;
    stats.skipped += r.skipped;
    stats.retries += r.retries;
    backoff = 100;
    options.onBatch?.({ source: consumer.source, entries: batch.entries.length, ...r });
  };
  while (!signal.aborted) {
    try {
      await consumer.run(handler, { signal });
    } catch (err) {
      if (signal.aborted) break; // the sink was closed while waiting for its target
      stats.errors++;
      try {
        options.onError?.(err);
      } catch {
        // A failing error callback must not stop the sink.
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }
}

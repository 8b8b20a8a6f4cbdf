import type { NatsConnection } from 'nats';
import { TallyError } from '../../errors.js';
import type { Tally } from '../../tally.js';
import { SOURCES } from '../position.js';
import type { FeedEntry, FeedSource } from '../types.js';
import type { WakeSource } from '../wake.js';
import { defaultStreamName, streamName, subjectToken } from './names.js';
import { checkWindow, DEFAULT_DUPLICATE_WINDOW_MS } from './stream.js';

/** What the relay reports after each batch is stored in the stream (and before its checkpoint). */
export interface RelayBatchInfo {
  readonly source: FeedSource;
  readonly entries: readonly FeedEntry[];
  /** Entries the stream stored now, and entries it already held (dropped as duplicates). */
  readonly stored: number;
  readonly duplicates: number;
  /** When the last ack of the batch arrived (`performance.timeOrigin + performance.now()`, ms). */
  readonly ackedAt: number;
  /** When each entry's own ack arrived, in the entries' order (same clock): per-entry publish latency. */
  readonly ackTimes: Float64Array;
}

export interface RelayOptions {
  /** The Tally instance whose log (and command events) are relayed. */
  readonly tally: Tally;
  /** A connection from `connect()` of the `nats` package; the relay never closes it. */
  readonly nats: NatsConnection;
  /** The JetStream stream. Default `TALLY_<schema>`. */
  readonly stream?: string;
  /** First subject token. Default `tally`: subjects are `tally.<schema>.log.<entity_type>`. */
  readonly prefix?: string;
  /** Feed sources to relay. Default both: `['log', 'command_events']`. */
  readonly sources?: readonly FeedSource[];
  /** Feed consumer name; one consumer per source is kept as `<name>:<source>`. Default `nats-relay`. */
  readonly name?: string;
  /** How long the broker drops a re-published message id. Default 15 minutes (NATS's own is 2). */
  readonly duplicateWindowMs?: number;
  /** Create the stream or widen it to the subjects and window (default true). */
  readonly ensureStream?: boolean;
  /** Publishes awaiting their ack at once. Default 1,024. */
  readonly maxInFlight?: number;
  /** How long one publish waits for its ack. Default 5,000 ms. */
  readonly publishTimeoutMs?: number;
  /** Entries per batch read from the feed. Default 1,000. */
  readonly batchSize?: number;
  /**
   * Batch size when caught up; batches double from it while the feed keeps them full, up to `batchSize`.
   * Small batches are acknowledged sooner (latency), big ones cost fewer reads when behind. Default 250.
   */
  readonly minBatchSize?: number;
  /** Feed lease: how soon another process may take over after this one died. Default 30 s. */
  readonly leaseMs?: number;
  /**
   * Longest sleep between polls when caught up. Default 100 ms: the feed's NOTIFY hint is off unless
   * `setFeedNotify` turned it on, so polling is what bounds an idle relay's latency.
   */
  readonly pollMs?: number;
  /** NOTIFY wake-ups: the `pg` Pool or the PGlite instance (see the feed consumer). */
  readonly listen?: WakeSource;
  /** Called after each batch is stored and before its checkpoint; awaited. */
  readonly onBatch?: (info: RelayBatchInfo) => void | Promise<void>;
  /** Called with every failure the relay retries (publishing, reading the feed). */
  readonly onError?: (err: unknown) => void;
}

export interface ResolvedRelayOptions {
  readonly stream: string;
  readonly prefix: string;
  readonly schema: string;
  readonly sources: readonly FeedSource[];
  readonly name: string;
  readonly duplicateWindowMs: number;
  readonly ensureStream: boolean;
  readonly maxInFlight: number;
  readonly publishTimeoutMs: number;
  readonly batchSize: number;
  readonly minBatchSize: number;
  readonly leaseMs: number | undefined;
  readonly pollMs: number;
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

function int(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TallyError('INVALID_RELAY_OPTIONS', `${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** Validates relay options at construction, with exact messages, and freezes the result. */
export function resolveRelayOptions(o: RelayOptions): ResolvedRelayOptions {
  if (!o || typeof o !== 'object') throw new TallyError('INVALID_RELAY_OPTIONS', 'startRelay needs options');
  if (!o.tally || typeof (o.tally as { config?: unknown }).config !== 'object') {
    throw new TallyError('INVALID_RELAY_OPTIONS', 'options.tally must be a Tally instance (createTally)');
  }
  const nc = o.nats as Partial<NatsConnection> | undefined;
  if (!nc || typeof nc.jetstream !== 'function' || typeof nc.jetstreamManager !== 'function') {
    throw new TallyError(
      'INVALID_RELAY_OPTIONS',
      'options.nats must be a NatsConnection from connect() of the nats package',
    );
  }
  const schema = subjectToken(o.tally.config.schemaName, 'the Tally schema (as a subject token)');
  const sources = o.sources ?? SOURCES;
  if (!Array.isArray(sources) || sources.length === 0 || !sources.every((s) => SOURCES.includes(s))) {
    throw new TallyError(
      'INVALID_RELAY_OPTIONS',
      `options.sources must be a non-empty list of ${SOURCES.join(', ')}`,
    );
  }
  const name = o.name ?? 'nats-relay';
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TallyError('INVALID_RELAY_OPTIONS', `options.name must match ${NAME.source}`);
  }
  for (const f of ['onBatch', 'onError'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'function') {
      throw new TallyError('INVALID_RELAY_OPTIONS', `options.${f} must be a function`);
    }
  }
  const batchSize = int(o.batchSize, 'options.batchSize', 1000, 1, 10_000);
  return Object.freeze({
    stream: o.stream === undefined ? defaultStreamName(schema) : streamName(o.stream, 'options.stream'),
    prefix: subjectToken(o.prefix ?? 'tally', 'options.prefix'),
    schema,
    sources: Object.freeze([...new Set(sources)]),
    name,
    duplicateWindowMs: checkWindow(
      o.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
      'options.duplicateWindowMs',
    ),
    ensureStream: o.ensureStream ?? true,
    maxInFlight: int(o.maxInFlight, 'options.maxInFlight', 1024, 1, 65_536),
    publishTimeoutMs: int(o.publishTimeoutMs, 'options.publishTimeoutMs', 5000, 100, 600_000),
    batchSize,
    minBatchSize: int(o.minBatchSize, 'options.minBatchSize', Math.min(250, batchSize), 1, batchSize),
    leaseMs: o.leaseMs,
    pollMs: int(o.pollMs, 'options.pollMs', 100, 1, 3_600_000),
  });
}

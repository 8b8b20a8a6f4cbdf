import { TallyError } from '../errors.js';
import { SOURCES } from './position.js';
import type { FeedSource } from './types.js';
import type { WakeSource } from './wake.js';

/** How a named consumer reads. Only `source` and `start` matter at creation; the rest apply per process. */
export interface ConsumerOptions {
  /** Which table to read: the operation log (default) or command events. Fixed at creation. */
  source?: FeedSource;
  /** Entries per batch handed to the handler. Default 500, at most 10,000. */
  batchSize?: number;
  /**
   * `run()` with prefetch only: batches start at this size when the consumer has caught up and double
   * while pages come back full, up to `batchSize` (small batches go out sooner; big ones cost fewer reads
   * when behind). Default: `batchSize` (every batch the same size).
   */
  minBatchSize?: number;
  /** Only these entity types (log) or command types (command_events). Default: all. */
  types?: readonly string[];
  /** Where a new consumer starts: everything committed so far ('beginning', default) or 'now'. */
  start?: 'beginning' | 'now';
  /** Throw CONSUMER_NOT_FOUND instead of creating the consumer when it does not exist. */
  mustExist?: boolean;
  /** How long this process's lease lasts without renewal. Default 30 s. */
  leaseMs?: number;
  /** Longest sleep between polls when there is nothing to read. Default 500 ms. */
  pollMs?: number;
  /**
   * `run()` reads the next batch while the handler works on the current one, and writes a batch's
   * checkpoint while the handler works on the next (decision 0047). Default true. The handler still gets
   * one batch at a time, in order; a crash may deliver two batches again instead of one.
   */
  prefetch?: boolean;
  /**
   * Where NOTIFY wake-ups come from: the `pg` Pool (one connection is held for LISTEN) or the PGlite
   * instance. Without it the consumer polls every `pollMs`.
   */
  listen?: WakeSource;
}

export interface ResolvedConsumerOptions {
  readonly source: FeedSource;
  readonly batchSize: number;
  readonly minBatchSize: number;
  readonly types: readonly string[] | null;
  readonly start: 'beginning' | 'now';
  readonly mustExist: boolean;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly prefetch: boolean;
  readonly listen: WakeSource | null;
  /**
   * Entries carry their position only (source, id, txid; no `entry`): for Tally's own consumers that read
   * the rows they need themselves, like the sealer (openPositionsConsumer). Never set from user options.
   */
  readonly positionsOnly: boolean;
}

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Checks a consumer name: 1-128 letters, digits, `_ . : -`. */
export function checkConsumerName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TallyError(
      'INVALID_CONSUMER_NAME',
      `consumer name must match ${NAME.source} (letters, digits, _ . : -; 1 to 128 characters)`,
    );
  }
  return name;
}

function int(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TallyError('INVALID_FEED_OPTIONS', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Validates consumer options once, with exact messages, and freezes the result. */
export function resolveConsumerOptions(options: ConsumerOptions | undefined): ResolvedConsumerOptions {
  const o = options ?? {};
  if (typeof o !== 'object')
    throw new TallyError('INVALID_FEED_OPTIONS', 'consumer options must be an object');
  const source = o.source ?? 'log';
  if (!SOURCES.includes(source)) {
    throw new TallyError('INVALID_FEED_OPTIONS', `options.source must be one of ${SOURCES.join(', ')}`);
  }
  let types: string[] | null = null;
  if (o.types !== undefined) {
    if (
      !Array.isArray(o.types) ||
      o.types.length === 0 ||
      o.types.length > 1000 ||
      !o.types.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 200)
    ) {
      throw new TallyError(
        'INVALID_FEED_OPTIONS',
        'options.types must be a non-empty array of at most 1,000 non-empty type names',
      );
    }
    types = [...new Set(o.types as string[])].sort();
  }
  const start = o.start ?? 'beginning';
  if (start !== 'beginning' && start !== 'now') {
    throw new TallyError('INVALID_FEED_OPTIONS', "options.start must be 'beginning' or 'now'");
  }
  if (o.mustExist !== undefined && typeof o.mustExist !== 'boolean') {
    throw new TallyError('INVALID_FEED_OPTIONS', 'options.mustExist must be a boolean');
  }
  if (o.prefetch !== undefined && typeof o.prefetch !== 'boolean') {
    throw new TallyError('INVALID_FEED_OPTIONS', 'options.prefetch must be a boolean');
  }
  const listen = o.listen ?? null;
  if (
    listen !== null &&
    (typeof listen !== 'object' ||
      (typeof (listen as { connect?: unknown }).connect !== 'function' &&
        typeof (listen as { listen?: unknown }).listen !== 'function'))
  ) {
    throw new TallyError(
      'INVALID_FEED_OPTIONS',
      'options.listen must be a pg Pool (with connect()) or a PGlite instance (with listen())',
    );
  }
  const batchSize = int(o.batchSize, 'options.batchSize', 500, 1, 10_000);
  return Object.freeze({
    source,
    batchSize,
    minBatchSize: int(o.minBatchSize, 'options.minBatchSize', batchSize, 1, batchSize),
    types: types === null ? null : Object.freeze(types),
    start,
    mustExist: o.mustExist ?? false,
    leaseMs: int(o.leaseMs, 'options.leaseMs', 30_000, 100, 86_400_000),
    pollMs: int(o.pollMs, 'options.pollMs', 500, 1, 3_600_000),
    prefetch: o.prefetch ?? true,
    listen,
    positionsOnly: false,
  });
}

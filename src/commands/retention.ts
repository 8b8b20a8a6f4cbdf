import { TallyError } from '../errors.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import type { Command } from './command.js';
import type { ResolvedFailover } from './failover.js';
import { keyRetentionMs } from './retention-option.js';
import { pruneCommandsSql, pruneIntakeSql } from './retention-sql.js';

/** A command type whose expired records to prune: a declared Command, or its type name and retention. */
export type RetentionSource = Pick<Command, 'runtime'> | { type: string; keyRetention: number | string };

export interface PruneKeysOptions {
  /** Records per statement (one short transaction each). Default 1,000. */
  chunk?: number;
  /** Stop after this many statements in all (a worker round's budget). Default: until none is left. */
  maxChunks?: number;
  /**
   * Finished commands with a call no commands-reconciler round has settled (decision 0058) are kept by
   * default, so a reconciler still finds them. Without a reconciler nothing settles them: pass 'prune'.
   */
  unreconciledCalls?: 'keep' | 'prune';
  /** Default: the Tally's clock. */
  now?: Date;
  signal?: AbortSignal;
}

export interface PruneKeysResult {
  /** Records deleted, per command type. */
  deleted: Record<string, number>;
  /** Handed-over intake rows deleted from failover stores (types with `failover`). */
  intakeDeleted: number;
  total: number;
  chunks: number;
  /** False when `maxChunks` or the signal stopped it with expired records possibly left. */
  done: boolean;
}

function retentionOf(src: RetentionSource): {
  type: string;
  ms: number | null;
  failover: ResolvedFailover | null;
} {
  if ('runtime' in src) {
    const spec = src.runtime.spec;
    return { type: spec.name, ms: spec.keyRetentionMs, failover: spec.failover };
  }
  return { type: src.type, ms: keyRetentionMs(src.type, src.keyRetention), failover: null };
}

/**
 * Deletes the records (and so the idempotency keys) of finished commands whose `keyRetention` has
 * passed, in bounded chunks, each its own short statement that skips rows others hold. Never a command
 * that is not finished, has an open alert, has events a feed consumer is still owed, or (by default) has
 * a call the reconciler has not settled. Types without `keyRetention` are left alone.
 *
 * @example
 * const redeem = tally.command('redeem', { ...definition, keyRetention: '30d' });
 * const { total } = await pruneExpiredKeys(tally, [redeem], { chunk: 500 });
 */
export async function pruneExpiredKeys(
  tally: HasTallyConfig,
  commands: readonly RetentionSource[],
  options: PruneKeysOptions = {},
): Promise<PruneKeysResult> {
  const { db, s, clock } = tally.config;
  const chunk = options.chunk ?? 1000;
  const maxChunks = options.maxChunks ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 100_000) {
    throw new TallyError('INVALID_CONFIG', 'prune chunk must be an integer from 1 to 100000');
  }
  if (maxChunks !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxChunks) || maxChunks < 1)) {
    throw new TallyError('INVALID_CONFIG', 'prune maxChunks must be a positive integer');
  }
  const now = options.now ?? clock();
  const prune = options.unreconciledCalls === 'prune';
  const result: PruneKeysResult = { deleted: {}, intakeDeleted: 0, total: 0, chunks: 0, done: true };
  const stop = () => {
    if (result.chunks < maxChunks && !options.signal?.aborted) return false;
    result.done = false;
    return true;
  };
  for (const src of commands) {
    const { type, ms, failover } = retentionOf(src);
    if (ms === null) continue;
    const before = new Date(now.getTime() - ms);
    result.deleted[type] ??= 0;
    for (;;) {
      if (stop()) return result;
      const [r] = await db.query<{ n: number }>(pruneCommandsSql(s, type, before, chunk, prune));
      const n = Number(r?.n ?? 0);
      result.chunks++;
      result.deleted[type] += n;
      result.total += n;
      if (n < chunk) break;
    }
    // The failover store's pointers to handed-over commands, by the same retention (its own database).
    while (failover) {
      if (stop()) return result;
      const [r] = await failover.db.query<{ n: number }>(pruneIntakeSql(s, type, before, chunk));
      const n = Number(r?.n ?? 0);
      result.chunks++;
      result.intakeDeleted += n;
      if (n < chunk) break;
    }
  }
  return result;
}

/** The worker's `prune` option: expired command records pruned beside the rounds (decision 0061). */
export interface PruneScheduleOptions extends Omit<PruneKeysOptions, 'now' | 'signal'> {
  /** At most one pruning pass this often (the Tally's clock). Default 60 s. */
  everyMs?: number;
}

/**
 * Runs `pruneExpiredKeys` from a worker round at most every `everyMs`, `maxChunks` statements per pass
 * (default 10), so a round never spends long on it; what is left waits for the next pass.
 */
export class PruneSchedule {
  readonly #o: PruneScheduleOptions;
  readonly #everyMs: number;
  #lastAt = Number.NEGATIVE_INFINITY;

  constructor(options: PruneScheduleOptions) {
    const every = options.everyMs ?? 60_000;
    if (!Number.isInteger(every) || every < 0 || every > 86_400_000) {
      throw new TallyError(
        'INVALID_WORKER_OPTIONS',
        'worker prune.everyMs must be an integer from 0 to 86400000',
      );
    }
    this.#everyMs = every;
    this.#o = { maxChunks: 10, ...options };
  }

  /**
   * Prunes if a pass is due; returns what it deleted, or null when it was not due.
   *
   * @example
   * const pruned = await schedule.tick(tally, [...commands.values()]);
   */
  async tick(tally: HasTallyConfig, commands: readonly RetentionSource[]): Promise<PruneKeysResult | null> {
    const now = tally.config.clock();
    const t = now.getTime();
    if (t - this.#lastAt < this.#everyMs && t >= this.#lastAt) return null;
    this.#lastAt = t;
    const { everyMs: _e, ...o } = this.#o;
    return pruneExpiredKeys(tally, commands, { ...o, now });
  }
}

import type { TallyConfig } from '../config.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { observedHandler } from '../observe/feed.js';
import { type FeedStore, feedStore } from './dialect/index.js';
import { ConsumerLease, consumerNotFound } from './lease.js';
import {
  type ConsumerOptions,
  checkConsumerName,
  type ResolvedConsumerOptions,
  resolveConsumerOptions,
} from './options.js';
import { type PipelinePort, runPipelined } from './pipeline.js';
import { BEGINNING_SNAPSHOT, positionOf } from './position.js';
import { type ReplayFrom, replayPosition } from './replay.js';
import type { FeedBatch, FeedHandler, FeedLag, FeedPosition, FeedTxHandler } from './types.js';
import { Wakeup } from './wake.js';

/** Anything carrying a Tally config: the Tally instance itself. */
export interface HasTallyConfig {
  readonly config: TallyConfig;
}

export interface RunOptions {
  /** Stops the loop after the batch in hand is handled and checkpointed. */
  signal?: AbortSignal;
}

// Empty polls move the checkpoint forward (so the next window's index range starts later) at most this often.
const IDLE_ADVANCE_MS = 5_000;

/**
 * A named, durable feed consumer: reads the log (or command events) in commit order without gaps and
 * keeps its checkpoint in `<schema>.feed_consumers`. One process at a time delivers (a lease); others
 * running the same name wait as standbys.
 */
export class FeedConsumer {
  readonly name: string;
  readonly options: ResolvedConsumerOptions;
  readonly #config: TallyConfig;
  readonly #lease: ConsumerLease;
  readonly #store: FeedStore;
  #held: { position: FeedPosition; renewedAt: number } | null = null;
  #lastIdleAdvance = 0;
  #running = false;

  /** Use `openConsumer`. */
  constructor(config: TallyConfig, name: string, options: ResolvedConsumerOptions) {
    this.#config = config;
    this.name = name;
    this.options = options;
    this.#lease = new ConsumerLease(config, name, config.ids(), options.leaseMs);
    this.#store = feedStore(config);
  }

  get source() {
    return this.options.source;
  }
  /** The quoted schema of Tally's tables (for `applyOnce`). */
  get schema(): string {
    return this.#config.s;
  }

  /** The durable checkpoint, as stored. Save it (JSON) to `replay` to it later. */
  async position(): Promise<FeedPosition> {
    return positionOf(await this.#lease.row(this.#config.db));
  }

  /**
   * How far behind the consumer is: committed entries not yet checkpointed, and the age in seconds of
   * the oldest of them (0 when caught up).
   */
  async lag(): Promise<FeedLag> {
    const pos = positionOf(await this.#lease.row(this.#config.db));
    const { entries, oldest } = await this.#store.lag(pos, this.options.types);
    const seconds = oldest ? Math.max(0, (this.#config.clock().getTime() - oldest.getTime()) / 1000) : 0;
    return { entries, seconds };
  }

  /**
   * Delivers one batch (at least once) and checkpoints it after `handler` resolved. Returns the number of
   * entries delivered: 0 when caught up. CONSUMER_BUSY when another process holds the consumer.
   */
  async once(handler: FeedHandler): Promise<number> {
    handler = this.#observed(handler);
    const pos = await this.#claim();
    const page = await this.#store.read(
      this.#config.db,
      pos,
      this.options.batchSize,
      this.options.types,
      this.options.positionsOnly,
    );
    const early = // the simulator's deliberate bug (decision 0152): the checkpoint moves before the ack
      this.#config.mutant === 'checkpoint-before-ack' && page.entries.length > 0
        ? await this.#advance(this.#config.db, pos, page.next, page.entries.length)
        : undefined;
    if (page.entries.length > 0) {
      const stop = this.#lease.heartbeat();
      try {
        await handler(Object.freeze({ entries: page.entries, position: page.next }));
      } finally {
        stop();
      }
    } else if (!this.#shouldAdvanceIdle(pos, page.next)) {
      return 0;
    }
    const at =
      early !== undefined ? early : await this.#advance(this.#config.db, pos, page.next, page.entries.length);
    this.#held = at === null ? null : { position: page.next, renewedAt: at };
    return page.entries.length;
  }

  /**
   * Delivers one batch inside a transaction: the handler's writes (through `tx`) and the checkpoint
   * commit together, so for writes into this database each batch takes effect exactly once. A handler
   * that throws rolls both back. On PGlite, write only through `tx` inside the handler.
   */
  async onceInTransaction(handler: FeedTxHandler): Promise<number> {
    handler = this.#observed(handler);
    const held = await this.#claim();
    // Probe outside a transaction first: an idle poll then costs one read, not a row lock and an xid.
    const probe = await this.#store.read(
      this.#config.db,
      held,
      1,
      this.options.types,
      this.options.positionsOnly,
    );
    if (probe.entries.length === 0 && !this.#idleAdvanceDue(held, probe.next)) return 0;
    // The in-memory checkpoint moves only once the transaction committed: a failed COMMIT must not
    // leave this process reading past a batch whose writes were rolled back.
    const moved = await this.#config.db
      .transaction(async (tx) => {
        const row = await this.#lease.row(tx, true);
        this.#lease.check(row);
        const pos = positionOf(row);
        const page = await this.#store.read(
          tx,
          pos,
          this.options.batchSize,
          this.options.types,
          this.options.positionsOnly,
        );
        if (page.entries.length > 0) {
          await handler(Object.freeze({ entries: page.entries, position: page.next }) as FeedBatch, tx);
        } else if (!this.#shouldAdvanceIdle(pos, page.next)) {
          return null;
        }
        const at = await this.#advance(tx, pos, page.next, page.entries.length);
        return at === null ? null : { to: page.next, at, n: page.entries.length };
      })
      .catch((err: unknown) => {
        this.#held = null; // whatever failed, read the checkpoint from the database next time
        throw err;
      });
    if (moved === null) return 0;
    this.#held = { position: moved.to, renewedAt: moved.at };
    return moved.n;
  }

  /**
   * Delivers batches until `signal` aborts: at least once, checkpoint after each handled batch; waits
   * for a NOTIFY or `pollMs` when caught up; waits as a standby while another process holds the name.
   * A handler error stops the loop and is thrown (the batch is delivered again next time).
   *
   * @example
   * const ac = new AbortController();
   * const c = await openConsumer(tally, 'search-index', { types: ['resource'] });
   * await c.run(async ({ entries }) => { for (const e of entries) await index(e) }, { signal: ac.signal });
   */
  run(handler: FeedHandler, options: RunOptions = {}): Promise<void> {
    if (!this.options.prefetch) return this.#loop(() => this.once(handler), options);
    return this.#frame((wake) => runPipelined(this.#port(), this.#observed(handler), wake, options.signal));
  }

  /** The handler with metrics and a span per batch when observing is on (decision 0140); else itself. */
  #observed<R extends unknown[]>(
    h: (b: FeedBatch, ...r: R) => Promise<void>,
  ): (b: FeedBatch, ...r: R) => Promise<void> {
    const o = this.#config.observer;
    return o.on ? observedHandler(o, this.name, h, () => this.#config.clock().getTime()) : h;
  }

  /**
   * Like `run`, each batch in a transaction with its checkpoint (see `onceInTransaction`).
   *
   * @example
   * await c.runInTransaction(async ({ entries }, tx) => {
   *   for (const e of entries) await applyOnce(tx, c, e, (tx) => tx.query(upsert(e)));
   * }, { signal });
   */
  runInTransaction(handler: FeedTxHandler, options: RunOptions = {}): Promise<void> {
    return this.#loop(() => this.onceInTransaction(handler), options);
  }

  /**
   * Moves the checkpoint: to a saved position, to 'beginning' or 'now', to an entry id (`{ id }`,
   * delivered again from that entry on) or a time (`{ at }`). CONSUMER_BUSY while another process
   * holds the consumer.
   *
   * @example
   * await c.replay({ at: new Date(Date.now() - 3600_000) }); // the last hour again
   */
  async replay(from: ReplayFrom): Promise<FeedPosition> {
    const to = await replayPosition(this.#config, this.options.source, from);
    await this.#lease.reset(to);
    this.#held = null;
    return to;
  }

  /** Gives the lease up so a standby can take over at once (run() does this when it stops). */
  async release(): Promise<void> {
    this.#held = null;
    await this.#lease.release();
  }

  /** One batch at a time: read, handle, checkpoint, read again. */
  #loop(step: () => Promise<number>, { signal }: RunOptions): Promise<void> {
    return this.#frame(async (wake) => {
      while (!signal?.aborted) {
        wake.consume();
        let n = 0;
        try {
          n = await step();
        } catch (err) {
          if (!(err instanceof TallyError && err.code === 'CONSUMER_BUSY')) throw err;
        }
        if (n > 0) continue; // more may be waiting: read again without sleeping
        await wake.wait(this.options.pollMs, signal);
      }
    });
  }

  /** What `run()` with prefetch needs from this consumer (src/feed/pipeline.ts). */
  #port(): PipelinePort {
    const { db } = this.#config;
    return {
      leaseMs: this.options.leaseMs,
      pollMs: this.options.pollMs,
      claim: () => {
        this.#held = null;
        return this.#lease.claim();
      },
      minBatchSize: this.options.minBatchSize,
      batchSize: this.options.batchSize,
      read: (pos, limit) => this.#store.read(db, pos, limit, this.options.types, this.options.positionsOnly),
      advance: (from, to, n) => this.#advance(db, from, to, n),
      heartbeat: () => this.#lease.heartbeat(),
      idleAdvance: (pos, next) => this.#shouldAdvanceIdle(pos, next),
      now: () => this.#config.clock().getTime(),
    };
  }

  /** A running loop's frame: one per consumer object, wake-ups started and stopped, the lease released. */
  async #frame(body: (wake: Wakeup) => Promise<void>): Promise<void> {
    if (this.#running) {
      throw new TallyError(
        'INVALID_FEED_OPTIONS',
        `consumer ${this.name} is already running in this process`,
      );
    }
    this.#running = true;
    const wake = new Wakeup(this.options.listen, this.#config.schemaName, this.options.source);
    await wake.start();
    try {
      await body(wake);
    } finally {
      this.#running = false;
      await wake.stop();
      await this.release().catch(() => {});
    }
  }

  /** Takes or renews the lease when due, and returns the checkpoint to read from. */
  async #claim(): Promise<FeedPosition> {
    const now = this.#config.clock().getTime();
    if (this.#held && now - this.#held.renewedAt < this.options.leaseMs / 3) return this.#held.position;
    this.#held = null;
    const { position, at } = await this.#lease.claim();
    this.#held = { position, renewedAt: at };
    return position;
  }

  #idleAdvanceDue(pos: FeedPosition, next: FeedPosition): boolean {
    if (pos.upper !== null) return true; // a window ended exactly on a page boundary: close it
    return next.snapshot !== pos.snapshot && Date.now() - this.#lastIdleAdvance >= IDLE_ADVANCE_MS;
  }

  #shouldAdvanceIdle(pos: FeedPosition, next: FeedPosition): boolean {
    if (!this.#idleAdvanceDue(pos, next)) return false;
    if (pos.upper === null) this.#lastIdleAdvance = Date.now();
    return true;
  }

  /** Moves the checkpoint; returns when (clock ms) it moved, or null when a replay moved it first. */
  async #advance(db: Executor, from: FeedPosition, to: FeedPosition, n: number): Promise<number | null> {
    try {
      return await this.#lease.advance(db, from, to, n);
    } catch (err) {
      this.#held = null;
      throw err;
    }
  }
}

/**
 * Creates or resumes a named consumer. A new one starts at the beginning of the source (or 'now');
 * an existing one resumes from its checkpoint, whatever `start` says.
 *
 * @example
 * const c = await openConsumer(tally, 'mirror', { source: 'log', batchSize: 500, start: 'beginning' });
 * await c.run(async (batch) => mirror(batch.entries), { signal });
 */
export async function openConsumer(
  tally: HasTallyConfig,
  name: string,
  options?: ConsumerOptions,
): Promise<FeedConsumer> {
  return open(tally, name, resolveConsumerOptions(options));
}

/**
 * A consumer whose entries carry their positions only (source, id, txid; `entry` is absent), for Tally's
 * own consumers that read the rows they need themselves: the sealer (decision 0068).
 */
export async function openPositionsConsumer(
  tally: HasTallyConfig,
  name: string,
  options?: ConsumerOptions,
): Promise<FeedConsumer> {
  return open(tally, name, Object.freeze({ ...resolveConsumerOptions(options), positionsOnly: true }));
}

async function open(tally: HasTallyConfig, name: string, o: ResolvedConsumerOptions): Promise<FeedConsumer> {
  const config = tally.config;
  checkConsumerName(name);
  const store = feedStore(config);
  if (!o.mustExist) {
    await store.createConsumer(
      name,
      o.source,
      o.types,
      o.start === 'now',
      BEGINNING_SNAPSHOT,
      config.clock(),
    );
  }
  const row = await store.getConsumer(config.db, name);
  if (!row) throw consumerNotFound(name);
  if (row.source !== o.source) {
    throw new TallyError(
      'INVALID_FEED_OPTIONS',
      `consumer ${name} reads ${row.source}; it cannot be reopened for ${o.source} (use another name)`,
    );
  }
  if (JSON.stringify(row.entity_types ?? null) !== JSON.stringify(o.types)) {
    await store.setTypes(name, o.types);
  }
  return new FeedConsumer(config, name, o);
}

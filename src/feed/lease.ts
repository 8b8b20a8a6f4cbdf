import type { TallyConfig } from '../config.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { type FeedStore, feedStore } from './dialect/index.js';
import { positionOf } from './position.js';
import type { ConsumerRow } from './sql.js';
import type { FeedPosition } from './types.js';

export function consumerNotFound(name: string): TallyError {
  return new TallyError('CONSUMER_NOT_FOUND', `no feed consumer named ${JSON.stringify(name)}`);
}

/**
 * One process's hold on a consumer row (decision 0041): the lease that keeps a second process a
 * standby, and the guarded checkpoint moves. Times come from the injected clock, like job leases.
 */
export class ConsumerLease {
  readonly #config: TallyConfig;
  readonly #name: string;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #store: FeedStore;

  constructor(config: TallyConfig, name: string, owner: string, leaseMs: number) {
    this.#config = config;
    this.#store = feedStore(config);
    this.#name = name;
    this.#owner = owner;
    this.#leaseMs = leaseMs;
  }

  #window(): [Date, Date] {
    const now = this.#config.clock();
    return [now, new Date(now.getTime() + this.#leaseMs)];
  }

  /** The consumer row; CONSUMER_NOT_FOUND when it is gone. */
  async row(db: Executor, forUpdate = false): Promise<ConsumerRow> {
    const row = await this.#store.getConsumer(db, this.#name, forUpdate);
    if (!row) throw consumerNotFound(this.#name);
    return row;
  }

  /** Takes or renews the lease and returns the checkpoint; CONSUMER_BUSY when another process holds it. */
  async claim(): Promise<{ position: FeedPosition; at: number }> {
    const [now, until] = this.#window();
    const row = await this.#store.claim(this.#name, this.#owner, now, until);
    if (!row) await this.#busy();
    return { position: positionOf(row!), at: now.getTime() };
  }

  /** Renews the lease while a long handler runs, so a standby does not take over mid-batch. */
  heartbeat(): () => void {
    const timer = setInterval(
      () => {
        const [now, until] = this.#window();
        this.#store.claim(this.#name, this.#owner, now, until).catch(() => {});
      },
      Math.max(50, Math.floor(this.#leaseMs / 3)),
    );
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /**
   * Moves the checkpoint from `from` to `to` and renews the lease. Returns when (clock ms) it moved, or
   * null when a replay moved it first; FEED_LEASE_LOST when another process holds the lease now.
   */
  async advance(
    db: Executor,
    from: FeedPosition,
    to: FeedPosition,
    delivered: number,
  ): Promise<number | null> {
    const [now, until] = this.#window();
    if (await this.#store.advance(db, this.#name, this.#owner, from, to, delivered, now, until)) {
      return now.getTime();
    }
    const row = await this.row(db);
    if (row.lease_owner !== this.#owner) this.lost();
    return null;
  }

  /** Throws unless this process holds the lease on `row`. */
  check(row: ConsumerRow): void {
    if (row.lease_owner !== this.#owner) this.lost();
  }

  lost(): never {
    throw new TallyError(
      'FEED_LEASE_LOST',
      `consumer ${this.#name}: another process took the lease over (this batch will be delivered again there)`,
    );
  }

  /** Sets the checkpoint (replay); CONSUMER_BUSY while another process holds the lease. */
  async reset(to: FeedPosition): Promise<void> {
    if (!(await this.#store.reset(this.#name, this.#owner, to, this.#config.clock()))) await this.#busy();
  }

  async release(): Promise<void> {
    await this.#store.release(this.#name, this.#owner);
  }

  async #busy(): Promise<never> {
    const row = await this.row(this.#config.db);
    throw new TallyError(
      'CONSUMER_BUSY',
      `consumer ${this.#name} is held by another process until its lease expires`,
      { details: { leaseUntil: row.lease_until } },
    );
  }
}

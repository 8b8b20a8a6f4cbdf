import type { Executor } from '../../db/types.js';
import type { Page } from '../read.js';
import type { ConsumerRow } from '../sql.js';
import type { FeedPosition, FeedSource } from '../types.js';

/**
 * What the feed's consumers need from their database (decision 0130's seam, decision 0134 for MySQL):
 * one object per dialect, chosen once from the connection (`feedStore`). Positions keep one text form on
 * both (pg_snapshot's `xmin:xmax:xip`): PostgreSQL's are real snapshots over xid8, MySQL's are the same
 * shape over the log's per-statement seqs.
 */
export interface FeedStore {
  readonly dialect: 'postgres' | 'mysql';
  /** One page from `pos`; a short page closes the window (decision 0040). `db` may be a transaction. */
  /** `positionsOnly`: entries without their rows, where the dialect can (it may send whole entries). */
  read(
    db: Executor,
    pos: FeedPosition,
    limit: number,
    types: readonly string[] | null,
    positionsOnly?: boolean,
  ): Promise<Page>;
  /** Undelivered committed entries from `pos` and the time of the oldest. */
  lag(pos: FeedPosition, types: readonly string[] | null): Promise<{ entries: number; oldest: Date | null }>;
  /** Creates the consumer unless it exists, at `beginning` or (fromNow) the current snapshot. */
  createConsumer(
    name: string,
    source: FeedSource,
    types: readonly string[] | null,
    fromNow: boolean,
    beginning: string,
    now: Date,
  ): Promise<void>;
  getConsumer(db: Executor, name: string, forUpdate?: boolean): Promise<ConsumerRow | undefined>;
  setTypes(name: string, types: readonly string[] | null): Promise<void>;
  /** Takes or renews the lease (free, expired or this owner's); undefined when another process holds it. */
  claim(name: string, owner: string, now: Date, until: Date): Promise<ConsumerRow | undefined>;
  release(name: string, owner: string): Promise<void>;
  /** Moves the checkpoint from -> to while `owner` holds the lease and it is still `from`. */
  advance(
    db: Executor,
    name: string,
    owner: string,
    from: FeedPosition,
    to: FeedPosition,
    delivered: number,
    now: Date,
    until: Date,
  ): Promise<boolean>;
  /** Sets the checkpoint (replay) unless another process holds the lease. */
  reset(name: string, owner: string, to: FeedPosition, now: Date): Promise<boolean>;
  currentSnapshot(): Promise<string>;
  firstIdAt(source: FeedSource, at: Date): Promise<string | null>;
  deleteConsumer(name: string, now: Date): Promise<{ found: boolean; deleted: boolean }>;
}

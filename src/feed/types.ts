import type { LogEntry } from '../changes/history.js';
import type { Executor } from '../db/types.js';

/**
 * The feed's public contract. Sources are Tally's append-only tables; a position says which committed
 * rows a consumer has already been handed (see docs/decisions/0040-feed-cursor.md for why it is a
 * snapshot and not an id).
 */
export type FeedSource = 'log' | 'command_events';

/** One command event as the feed hands it out. */
export interface CommandEventEntry {
  id: string;
  command_id: string;
  command_type: string;
  kind: string;
  step: string | null;
  data: unknown;
  at: Date;
  txid: string;
}

/** One entry of a source: an operation-log row or a command event, tagged with where it came from. */
export type FeedEntry =
  | { readonly source: 'log'; readonly id: string; readonly txid: string; readonly entry: LogEntry }
  | {
      readonly source: 'command_events';
      readonly id: string;
      readonly txid: string;
      readonly entry: CommandEventEntry;
    };

/**
 * Where a consumer stands. Opaque to users: serialize it with JSON and hand it back to `replayFrom`.
 * `snapshot` is the pg_snapshot (text form) whose committed rows have all been delivered; `upper` and
 * `afterId` describe a window that is being paged through (rows visible in `upper` but not in `snapshot`,
 * delivered up to id `afterId`).
 */
export interface FeedPosition {
  readonly source: FeedSource;
  readonly snapshot: string;
  readonly upper: string | null;
  readonly afterId: string | null;
}

/** How far behind a consumer is: undelivered committed entries and the age of the oldest of them. */
export interface FeedLag {
  readonly entries: number;
  readonly seconds: number;
}

/** A batch handed to a handler: entries in delivery order (per entity in version order). */
export interface FeedBatch {
  readonly entries: readonly FeedEntry[];
  /** Where the consumer stands once this batch is handled: what its checkpoint becomes. */
  readonly position: FeedPosition;
}

export type FeedHandler = (batch: FeedBatch) => Promise<void>;

/** A transaction-scoped handler: its writes and the consumer's checkpoint commit together (exactly once). */
export type FeedTxHandler = (batch: FeedBatch, tx: Executor) => Promise<void>;

import { TallyError } from '../errors.js';
import type { Page } from './read.js';
import type { FeedBatch, FeedHandler, FeedPosition } from './types.js';
import type { Wakeup } from './wake.js';

/**
 * What the pipelined loop needs from its consumer: the lease, reads, guarded checkpoint moves. Kept as
 * a port so the loop's ordering rules can be read (and tested) apart from the consumer's bookkeeping.
 */
export interface PipelinePort {
  readonly leaseMs: number;
  readonly pollMs: number;
  /** Page sizes: from `minBatchSize` when caught up, doubling while pages come back full, to `batchSize`. */
  readonly minBatchSize: number;
  readonly batchSize: number;
  /** Takes or renews the lease; returns the stored checkpoint and when (clock ms). Throws CONSUMER_BUSY. */
  claim(): Promise<{ position: FeedPosition; at: number }>;
  read(pos: FeedPosition, limit: number): Promise<Page>;
  /** Moves the stored checkpoint from -> to; when (clock ms), or null when a replay moved it first. */
  advance(from: FeedPosition, to: FeedPosition, n: number): Promise<number | null>;
  /** Renews the lease on a timer while a handler runs; returns the stop function. */
  heartbeat(): () => void;
  /** Whether an empty read should still move the stored checkpoint (decision 0041's idle advance). */
  idleAdvance(pos: FeedPosition, next: FeedPosition): boolean;
  now(): number;
}

const same = (a: FeedPosition, b: FeedPosition) =>
  a.snapshot === b.snapshot && a.upper === b.upper && a.afterId === b.afterId;

/**
 * `run()` with reading and handling overlapped (decision 0047). While the handler works on page N, page
 * N+1 is already being read from page N's end position; when the handler resolved, page N's checkpoint
 * is written while the handler works on page N+1. What does not change (decisions 0040, 0041):
 * - the handler is called for one page at a time, in feed order;
 * - the stored checkpoint moves only in order, and only over pages whose handler resolved (the moves
 *   form one promise chain, each guarded by lease and previous position);
 * - a handler error discards the prefetched page, lets the moves already due finish, and is thrown; the
 *   failed page comes again from its own start;
 * - a lost lease (FEED_LEASE_LOST) or a checkpoint moved by a replay ends the pipeline: the next read
 *   starts from the stored checkpoint.
 * A crash can therefore deliver again the page in hand and the one whose checkpoint was in flight.
 */
export async function runPipelined(
  port: PipelinePort,
  handler: FeedHandler,
  wake: Wakeup,
  signal: AbortSignal | undefined,
): Promise<void> {
  let cursor: FeedPosition | null = null; // where the next page starts (handled up to here)
  let renewedAt = 0;
  let ahead: { from: FeedPosition; page: Promise<Page> } | null = null;
  let chain: Promise<void> = Promise.resolve(); // checkpoint moves, in order
  let failure: { err: unknown } | null = null; // the first failed move
  let reclaim = false; // a replay moved the checkpoint under us: start over from the stored one
  let limit = port.minBatchSize;
  // A full page means more is waiting: the next one may be bigger. A short one means caught up.
  const read = (pos: FeedPosition) => {
    const asked = limit;
    return port.read(pos, asked).then((page) => {
      limit = page.entries.length >= asked ? Math.min(port.batchSize, asked * 2) : port.minBatchSize;
      return page;
    });
  };

  const move = (from: FeedPosition, to: FeedPosition, n: number) => {
    chain = chain.then(async () => {
      if (failure || reclaim) return; // an earlier move failed: later ones must not run past it
      try {
        const at = await port.advance(from, to, n);
        if (at === null) reclaim = true;
        else renewedAt = at;
      } catch (err) {
        failure = { err };
      }
    });
  };

  try {
    while (!signal?.aborted) {
      if (failure) throw (failure as { err: unknown }).err;
      wake.consume();
      if (cursor === null || reclaim || port.now() - renewedAt >= port.leaseMs / 3) {
        await chain; // let the moves in flight land, so the position claimed back is the real one
        if (failure) continue;
        let claimed: { position: FeedPosition; at: number };
        try {
          claimed = await port.claim();
        } catch (err) {
          if (!(err instanceof TallyError && err.code === 'CONSUMER_BUSY')) throw err;
          cursor = null; // a standby: keep polling for the lease
          ahead = null;
          await wake.wait(port.pollMs, signal);
          continue;
        }
        renewedAt = claimed.at;
        if (cursor === null || reclaim || !same(cursor, claimed.position)) {
          cursor = claimed.position;
          ahead = null;
        }
        reclaim = false;
      }
      const from: FeedPosition = cursor;
      const prefetched = ahead !== null && same(ahead.from, from);
      const page: Page = prefetched ? await ahead!.page : await read(from);
      ahead = null;
      if (page.entries.length === 0) {
        if (port.idleAdvance(from, page.next)) {
          move(from, page.next, 0);
          cursor = page.next;
          await chain;
        }
        // An empty prefetch was taken while the handler ran: what committed since is read at once, not
        // after a poll interval (the unpipelined loop also reads again at once after a batch).
        if (!prefetched) await wake.wait(port.pollMs, signal);
        continue;
      }
      // Read the following page while this one is handled; a failed read surfaces when it is used.
      const prefetch = read(page.next);
      prefetch.catch(() => {});
      ahead = { from: page.next, page: prefetch };
      const stop = port.heartbeat();
      try {
        await handler(Object.freeze({ entries: page.entries, position: page.next }) as FeedBatch);
      } catch (err) {
        ahead = null; // the failed page comes again from `from`; nothing after it was handed out
        throw err;
      } finally {
        stop();
      }
      move(from, page.next, page.entries.length);
      cursor = page.next;
    }
  } finally {
    // What was handled is checkpointed before the loop gives the lease up (also after a handler error).
    await chain;
  }
  if (failure) throw (failure as { err: unknown }).err;
}

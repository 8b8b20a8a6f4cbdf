import type { Observer } from './observer.js';

/** What the feed hooks read of a batch: its entries, each with its commit-time `at`. */
interface BatchLike {
  readonly entries: readonly { readonly entry: { readonly at?: Date | string | null } }[];
}

/**
 * A feed handler, observed (decision 0140): a CONSUMER span per batch (OpenTelemetry's messaging
 * attribute names), the batches / entries counters, the batch latency, and the lag — how old the batch's
 * last entry is when its handler resolved. Wrapped once per `run()`, `once()` or `onceInTransaction()`,
 * and only when `observer.on`.
 */
export function observedHandler<B extends BatchLike, R extends unknown[]>(
  o: Observer,
  consumer: string,
  handler: (batch: B, ...rest: R) => Promise<void>,
  now: () => number,
): (batch: B, ...rest: R) => Promise<void> {
  return (batch, ...rest) => {
    const t = o.start();
    const n = batch.entries.length;
    const attributes = {
      'messaging.system': 'tally',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': consumer,
      'messaging.batch.message_count': n,
    };
    return o.span(`process ${consumer}`, { kind: 'consumer', attributes }, async () => {
      await handler(batch, ...rest);
      o.count('tally_feed_batches_total', consumer);
      o.count('tally_feed_entries_total', consumer, undefined, undefined, n);
      o.seconds('tally_feed_batch_seconds', t, consumer);
      const last = batch.entries[n - 1]?.entry.at;
      if (last)
        o.gauge('tally_feed_lag_seconds', Math.max(0, (now() - new Date(last).getTime()) / 1000), consumer);
    });
  };
}

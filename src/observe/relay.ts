import type { Observer } from './observer.js';

/**
 * One NATS relay publish of a feed batch, observed (decision 0140): a PRODUCER span with OpenTelemetry's
 * messaging attribute names, and the publishes / entries counters. The batch itself is also a feed batch
 * (the relay's consumer is observed like any other), so its lag is tally_feed_lag_seconds.
 */
export function observedPublish<T>(
  o: Observer,
  relay: string,
  stream: string,
  n: number,
  publish: () => Promise<T>,
): Promise<T> {
  const attributes = {
    'messaging.system': 'nats',
    'messaging.operation.type': 'send',
    'messaging.destination.name': stream,
    'messaging.batch.message_count': n,
  };
  return o.span(`send ${stream}`, { kind: 'producer', attributes }, async () => {
    const r = await publish();
    o.count('tally_relay_publishes_total', relay);
    o.count('tally_relay_entries_total', relay, undefined, undefined, n);
    return r;
  });
}

// The baseline the feed replaces: a poller that reads `id > last_seen` in id order and publishes what it
// finds. Identity values are taken at insert but become visible at commit, so a transaction that took
// lower ids and commits after a later one is skipped for good: those are its gaps. It publishes exactly
// like the relay (async acks, stable message ids), so only the reading differs.
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { AckedPublisher } from '../src/feed/nats/publish.js';
import type { FeedEntry } from '../src/feed/types.js';

export interface NaivePoller {
  stop(): Promise<void>;
}

/** Polls `<s>.log` for `id > last` (pages of 2,000), publishing each page and awaiting its acks. */
export function startNaivePoller(
  pool: pg.Pool,
  s: string,
  nc: NatsConnection,
  o: {
    prefix: string;
    schema: string;
    stream: string;
    pollMs: number;
    /** Per page: log ids, `key:version` identities and each entry's own ack time, in the same order. */
    onAck: (ids: string[], keys: string[], ackTimes: Float64Array) => void;
  },
): NaivePoller {
  const publisher = new AckedPublisher(nc);
  let last = '0';
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const { rows } = await pool.query(
        // ORDER BY the bigint column, not the text alias: '999' sorts after '1000' as text.
        `SELECT l.id::text AS id, entity_type, entity_key, version::int AS version, action, actor, before, after, at
           FROM ${s}.log l WHERE l.id > $1::int8 ORDER BY l.id LIMIT 2000`,
        [last],
      );
      if (rows.length === 0) {
        await new Promise((r) => setTimeout(r, o.pollMs));
        continue;
      }
      const entries = rows.map(
        (r) => ({ source: 'log', id: r.id, txid: '0', entry: r }) as unknown as FeedEntry,
      );
      const r = await publisher.publish(entries, { ...o, maxInFlight: 1024, timeoutMs: 10_000 });
      o.onAck(
        rows.map((r) => r.id),
        rows.map((r) => `${r.entity_key}:${r.version}`),
        r.ackTimes,
      );
      last = rows[rows.length - 1].id;
    }
    publisher.close();
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

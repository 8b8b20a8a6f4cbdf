// run() with prefetch (decision 0047): the next page is read while the handler works on the current one,
// and what that overlap must never cost: a handler failure with a page prefetched loses nothing and skips
// nothing, a stop checkpoints exactly what was handled, and the handler sees batches one at a time, in order.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor, SqlQuery } from '../../src/db/types.js';
import { openConsumer } from '../../src/feed/index.js';
import { encodeEntry } from '../../src/feed/nats/publish.js';
import type { FeedEntry, FeedPosition } from '../../src/feed/types.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

type Entity = ReturnType<Tally['entity']>;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** An executor that logs when feed pages are read and checkpoints written (start and end). */
function traced(db: Executor, events: string[]): Executor {
  const kind = (q: SqlQuery) =>
    q.text.includes('NOT pg_visible_in_snapshot(t.txid, $2::pg_snapshot)') && q.text.includes('LIMIT')
      ? 'read'
      : q.text.includes('delivered = delivered +')
        ? 'checkpoint'
        : null;
  return {
    dialect: db.dialect,
    inTransaction: db.inTransaction,
    async query(q) {
      const k = kind(q);
      if (k) events.push(`${k}:start`);
      try {
        return await db.query(q);
      } finally {
        if (k) events.push(`${k}:end`);
      }
    },
    exec: (text) => db.exec(text),
    transaction: (fn, o) => db.transaction(fn, o),
    close: async () => {},
  };
}

const until = async (what: () => boolean) => {
  const end = Date.now() + 5000;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describeEachDialect('feed run() with prefetch', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  let res: Entity;
  let amount = 0;
  const events: string[] = [];
  const touch = (keys: number[]) => res.update({ keys, set: { amount: ++amount }, actor: 'test' });
  const logIds = async () =>
    (
      await t.db.query<{ id: string }>({ text: 'SELECT l.id::text AS id FROM tally.log l ORDER BY l.id' })
    ).map((r) => r.id);

  beforeAll(async () => {
    t = await fresh();
    ({ resources: res } = await resourcesFixture(t.db, 100));
    tally = await createTally({ db: traced(t.db, events) });
  });
  afterAll(() => t.close());

  it('reads the next page while the handler works on the current one (and not without prefetch)', async () => {
    await touch(range(1, 30));
    const readsDuringFirst = async (prefetch: boolean) => {
      const c = await openConsumer(tally, `overlap-${prefetch}`, { batchSize: 10, prefetch, pollMs: 20 });
      const ac = new AbortController();
      let reads = -1;
      events.length = 0;
      await c.run(
        async () => {
          if (reads === -1) {
            await new Promise((r) => setTimeout(r, 100));
            reads = events.filter((e) => e === 'read:start').length;
          }
          ac.abort();
        },
        { signal: ac.signal },
      );
      return reads;
    };
    expect(await readsDuringFirst(true)).toBe(2); // the first page and the prefetched second one
    expect(await readsDuringFirst(false)).toBe(1);
  });

  it('a handler failure with a page prefetched loses nothing and skips nothing; order is kept', async () => {
    const c = await openConsumer(tally, 'fail-prefetched', { start: 'now', batchSize: 10, pollMs: 20 });
    await touch(range(1, 50));
    const all = (await logIds()).slice(-50);
    const handled: string[] = [];
    const positions: FeedPosition[] = [];
    let batches = 0;
    events.length = 0;
    await expect(
      c.run(async ({ entries, position }) => {
        batches++;
        if (batches === 3) {
          // Batch 4 is read (prefetched) by now; batch 2's checkpoint is written or in flight.
          await until(() => events.filter((e) => e === 'read:end').length >= 4);
          throw new Error('publisher down');
        }
        handled.push(...entries.map((e) => e.id));
        positions.push(position);
      }),
    ).rejects.toThrow('publisher down');
    expect(handled).toEqual(all.slice(0, 20));
    // The checkpoint stands after the last handled batch: neither the failed one nor the prefetched one.
    expect(await c.position()).toEqual(positions[1]);

    // The next run starts at the failed batch's first entry and goes on in order, each entry once.
    const again: string[] = [];
    const ac = new AbortController();
    await c.run(
      async ({ entries }) => {
        again.push(...entries.map((e) => e.id));
        if (again.length >= 30) ac.abort();
      },
      { signal: ac.signal },
    );
    expect(again).toEqual(all.slice(20));
    expect([...handled, ...again]).toEqual(all);
    expect((await c.lag()).entries).toBe(0);
  });

  it('a stop checkpoints exactly the handled batches; the prefetched page is not handed out', async () => {
    const c = await openConsumer(tally, 'stop-prefetched', { start: 'now', batchSize: 10, pollMs: 20 });
    await touch(range(51, 90));
    const all = (await logIds()).slice(-40);
    const handled: string[] = [];
    let last: FeedPosition | null = null;
    const ac = new AbortController();
    await c.run(
      async ({ entries, position }) => {
        handled.push(...entries.map((e) => e.id));
        last = position;
        if (handled.length === 20) ac.abort();
      },
      { signal: ac.signal },
    );
    expect(handled).toEqual(all.slice(0, 20));
    expect(await c.position()).toEqual(last);
    const rest: string[] = [];
    while ((await c.once(async ({ entries }) => void rest.push(...entries.map((e) => e.id)))) > 0) {}
    expect(rest).toEqual(all.slice(20));
  });

  it('minBatchSize: batches double while pages come back full, and start small again once caught up', async () => {
    const c = await openConsumer(tally, 'growing', {
      start: 'now',
      batchSize: 40,
      minBatchSize: 5,
      pollMs: 20,
    });
    await touch(range(1, 100));
    const sizes: number[] = [];
    const got: string[] = [];
    const ac = new AbortController();
    const running = c.run(
      async ({ entries }) => {
        sizes.push(entries.length);
        got.push(...entries.map((e) => e.id));
        if (got.length === 100) await touch(range(1, 3));
        if (got.length === 103) ac.abort();
      },
      { signal: ac.signal },
    );
    await running;
    expect(sizes).toEqual([5, 10, 20, 40, 25, 3]);
    expect(got).toEqual((await logIds()).slice(-103));
    await expect(openConsumer(tally, 'bad-min', { batchSize: 10, minBatchSize: 11 })).rejects.toThrow(
      'options.minBatchSize must be an integer from 1 to 10',
    );
  });

  it('a log entry read as one JSON text equals the history API entry; its message body is the same JSON', async () => {
    await res.transition({ keys: [7], to: 'frozen', actor: 'json-check', reason: 'quote " and \\ and ü' });
    const c = await openConsumer(tally, 'json-shape', { start: 'beginning', batchSize: 10_000 });
    let got: FeedEntry | undefined;
    await c.once(async ({ entries }) => {
      got = entries.filter((e) => e.source === 'log' && e.entry.actor === 'json-check').at(-1);
    });
    const [fromHistory] = (await res.history(7)).filter((e) => e.actor === 'json-check');
    expect(got!.entry).toEqual(fromHistory);
    expect(got!.entry.at).toBeInstanceOf(Date);
    expect(JSON.parse(new TextDecoder().decode(encodeEntry(got!)))).toEqual(JSON.parse(JSON.stringify(got)));
  });

  it('checkpoints land in order while batches keep coming (every move is guarded by the previous one)', async () => {
    const c = await openConsumer(tally, 'in-order', { start: 'now', batchSize: 7, pollMs: 20 });
    await touch(range(1, 100));
    const all = (await logIds()).slice(-100);
    const got: string[] = [];
    const ac = new AbortController();
    events.length = 0;
    await c.run(
      async ({ entries }) => {
        got.push(...entries.map((e) => e.id));
        if (got.length >= 100) ac.abort();
      },
      { signal: ac.signal },
    );
    expect(got).toEqual(all);
    // 15 batches, 15 checkpoint moves; a move that had found the checkpoint elsewhere would have
    // restarted from the stored position and delivered entries twice.
    expect(events.filter((e) => e === 'checkpoint:start').length).toBe(15);
    expect((await c.lag()).entries).toBe(0);
  });
});

import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import {
  applyOnce,
  dropConsumer,
  type FeedConsumer,
  openConsumer,
  pruneInbox,
} from '../../src/feed/index.js';
import type { FeedEntry, FeedPosition } from '../../src/feed/types.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture } from '../support/resources.js';

type Entity = ReturnType<Tally['entity']>;

/** Every entry the consumer has left, one batch at a time, as ids. */
async function drain(c: FeedConsumer): Promise<string[]> {
  const ids: string[] = [];
  while ((await c.once(async ({ entries }) => void ids.push(...entries.map((e) => e.id)))) > 0) {}
  return ids;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function rejects(p: Promise<unknown>, code: string) {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(isTallyError(err), String(err)).toBe(true);
  expect(err.code).toBe(code);
}

describeEachDialect('feed consumers', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  let res: Entity;
  let now = new Date('2026-01-01T00:00:00Z');
  let amount = 0;
  // Each call changes every key once: one log row per key, in key order.
  const touch = (keys: number[]) => res.update({ keys, set: { amount: ++amount }, actor: 'test' });
  const logIds = async (where = 'true') =>
    (
      await t.db.query<{ id: string }>({
        text: `SELECT l.id::text AS id FROM tally.log l WHERE ${where} ORDER BY l.id`,
      })
    ).map((r) => r.id);

  beforeAll(async () => {
    t = await fresh();
    ({ tally, resources: res } = await resourcesFixture(t.db, 300));
    // A second Tally on the same database with a settable clock, for lag seconds.
    tally = await createTally({ db: t.db, clock: () => now });
    res = tally.entity('resource', {
      table: 'resources',
      states: { active: ['frozen'], frozen: ['active'] },
    });
  });
  afterAll(() => t.close());

  it('checkpoint survives a restart: a new Tally and consumer object resume after the last handled batch', async () => {
    const before = await logIds();
    await touch(range(1, 10));
    const a = await openConsumer(tally, 'restart', { batchSize: 4, start: 'beginning' });
    const first: string[] = [];
    await a.once(async ({ entries }) => void first.push(...entries.map((e) => e.id)));
    await a.once(async ({ entries }) => void first.push(...entries.map((e) => e.id)));
    await a.release();
    const all = await logIds();
    expect(first).toEqual(all.slice(0, 8));
    const tally2 = await createTally({ db: t.db });
    const b = await openConsumer(tally2, 'restart', { batchSize: 4, mustExist: true });
    expect(await drain(b)).toEqual(all.slice(8));
    expect(before.length + 10).toBe(all.length);
  });

  it('catch-up after downtime, with lag in entries and seconds', async () => {
    const c = await openConsumer(tally, 'catchup', { start: 'now', batchSize: 100 });
    expect(await c.lag()).toEqual({ entries: 0, seconds: 0 });
    now = new Date('2026-01-01T00:00:00Z');
    await touch(range(1, 250));
    await touch(range(1, 50));
    now = new Date('2026-01-01T00:01:30Z');
    expect(await c.lag()).toEqual({ entries: 300, seconds: 90 });
    await c.once(async () => {});
    expect((await c.lag()).entries).toBe(200);
    const rest = await drain(c);
    expect(rest).toHaveLength(200);
    expect(await c.lag()).toEqual({ entries: 0, seconds: 0 });
  });

  it('at least once: a handler that throws leaves the checkpoint, the batch comes again', async () => {
    const c = await openConsumer(tally, 'retry', { start: 'now', batchSize: 10 });
    await touch(range(20, 24));
    const pos = await c.position();
    await expect(
      c.run(async () => {
        throw new Error('sink down');
      }),
    ).rejects.toThrow('sink down');
    expect(await c.position()).toEqual(pos);
    const again = await drain(c);
    expect(again).toEqual((await logIds()).slice(-5));
  });

  it('runInTransaction: a rollback leaves the checkpoint and the handler writes; success commits both', async () => {
    await t.db.exec('CREATE TABLE mirror (log_id bigint PRIMARY KEY)');
    const c = await openConsumer(tally, 'tx', { start: 'now' });
    await touch(range(30, 32));
    const pos = await c.position();
    const failing = c.onceInTransaction(async ({ entries }, tx) => {
      for (const e of entries) await tx.query({ text: 'INSERT INTO mirror VALUES ($1)', values: [e.id] });
      throw new Error('handler failed after writing');
    });
    await expect(failing).rejects.toThrow('handler failed after writing');
    expect(await count(t.db, 'SELECT 1 FROM mirror')).toBe(0);
    expect(await c.position()).toEqual(pos);
    const n = await c.onceInTransaction(async ({ entries }, tx) => {
      for (const e of entries) await tx.query({ text: 'INSERT INTO mirror VALUES ($1)', values: [e.id] });
    });
    expect(n).toBe(3);
    expect(await count(t.db, 'SELECT 1 FROM mirror')).toBe(3);
    expect(await drain(c)).toEqual([]);
  });

  it('applyOnce absorbs a redelivery: crash after applying, before the checkpoint', async () => {
    await t.db.exec('CREATE TABLE applied (entity_key text PRIMARY KEY, n int NOT NULL)');
    const c = await openConsumer(tally, 'inbox', { start: 'now' });
    await touch(range(40, 43));
    const apply = async (entries: readonly FeedEntry[]) => {
      let applied = 0;
      await t.db.transaction(async (tx) => {
        for (const e of entries) {
          if (e.source !== 'log') continue;
          const r = await applyOnce(tx, c, e, (tx) =>
            tx.query({
              text: `INSERT INTO applied VALUES ($1, 1) ON CONFLICT (entity_key) DO UPDATE SET n = applied.n + 1`,
              values: [e.entry.entity_key],
            }),
          );
          if (r.applied) applied++;
        }
      });
      return applied;
    };
    // First delivery applies everything, then "crashes" before the checkpoint moves.
    await expect(
      c.once(async ({ entries }) => {
        expect(await apply(entries)).toBe(4);
        throw new Error('crash before checkpoint');
      }),
    ).rejects.toThrow('crash before checkpoint');
    let second = -1;
    await c.once(async ({ entries }) => {
      second = await apply(entries);
    });
    expect(second).toBe(0); // all four absorbed
    expect(await t.db.query({ text: 'SELECT sum(n)::int AS n FROM applied' })).toEqual([{ n: 4 }]);
    await rejects(
      applyOnce(t.db, c, { source: 'log', id: '1' } as FeedEntry, async () => {}),
      'FEED_TX_REQUIRED',
    );
    // The same inbox named plainly (as a handler writing to another database with Tally's tables does).
    const last = (await logIds())[0]!; // an entry this consumer never applied
    const entry = { source: 'log', id: last } as FeedEntry;
    const byName = await t.db.transaction((tx) =>
      applyOnce(tx, { name: 'inbox', schema: 'tally' }, entry, async () => 1),
    );
    expect(byName.applied).toBe(true);
    const again = await t.db.transaction((tx) => applyOnce(tx, { name: 'inbox' }, entry, async () => 1));
    expect(again.applied).toBe(false);
    // Pruning forgets: records older than the cutoff go, and that entry would be applied again.
    expect(await pruneInbox(t.db, { name: 'inbox' }, new Date(Date.now() + 60_000))).toBe(5);
    const afterPrune = await t.db.transaction((tx) => applyOnce(tx, { name: 'inbox' }, entry, async () => 1));
    expect(afterPrune.applied).toBe(true);
    await rejects(
      t.db.transaction((tx) =>
        applyOnce(tx, { name: 'inbox', schema: 'no such"schema' }, entry, async () => 1),
      ),
      'INVALID_IDENTIFIER',
    );
  });

  it('replay: from the beginning, from an entry id, from a time and from a saved position', async () => {
    const c = await openConsumer(tally, 'replay', { start: 'now' });
    now = new Date('2026-02-01T00:00:00Z');
    await touch(range(50, 54));
    now = new Date('2026-02-01T01:00:00Z');
    await touch(range(55, 59));
    const all = await logIds();
    const saved: FeedPosition = JSON.parse(JSON.stringify(await c.position()));
    expect(await drain(c)).toEqual(all.slice(-10));
    await c.replay(saved);
    expect(await drain(c)).toEqual(all.slice(-10));
    await c.replay({ at: new Date('2026-02-01T00:30:00Z') });
    expect(await drain(c)).toEqual(all.slice(-5));
    await c.replay({ id: all[all.length - 3]! });
    expect(await drain(c)).toEqual(all.slice(-3));
    await c.replay('beginning');
    expect(await drain(c)).toEqual(all);
    // Replay windows are paged like any other, and later commits follow.
    await c.replay({ id: all[all.length - 7]! });
    await touch([60]);
    const tail = await drain(c);
    expect(tail).toEqual([...all.slice(-7), ...(await logIds()).slice(-1)]);
  });

  it('entity-type filter and the command_events source', async () => {
    await t.db.exec(`CREATE TABLE other (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
      x int NOT NULL DEFAULT 0); INSERT INTO other SELECT g, 'a', 0, 0 FROM generate_series(1, 5) g;`);
    const other = tally.entity('other', { table: 'other', states: { a: [] } });
    const c = await openConsumer(tally, 'typed', { start: 'now', types: ['other'] });
    await touch([70]);
    await other.update({ keys: [1, 2], set: { x: 1 }, actor: 't' });
    await touch([71]);
    const got: string[] = [];
    while (
      (await c.once(
        async ({ entries }) =>
          void got.push(...entries.map((e) => (e.source === 'log' ? e.entry.entity_type : ''))),
      )) > 0
    ) {}
    expect(got).toEqual(['other', 'other']);

    const ev = await openConsumer(tally, 'events', { source: 'command_events', start: 'beginning' });
    await t.db.exec(`INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, next_at, created_at, updated_at)
        VALUES ('00000000-0000-4000-8000-000000000001', 'redeem', 'u1', 'k1', 'f', '{}', '{}', now(), now(), now());
      INSERT INTO tally.command_events (command_id, kind, step, data, at)
        VALUES ('00000000-0000-4000-8000-000000000001', 'submitted', NULL, '{"a":1}', now()),
               ('00000000-0000-4000-8000-000000000001', 'step_done', 'deduct', NULL, now());`);
    const events: FeedEntry[] = [];
    while ((await ev.once(async ({ entries }) => void events.push(...entries))) > 0) {}
    expect(
      events.map((e) =>
        e.source === 'command_events' ? [e.entry.command_type, e.entry.kind, e.entry.step] : null,
      ),
    ).toEqual([
      ['redeem', 'submitted', null],
      ['redeem', 'step_done', 'deduct'],
    ]);
    expect(events[0]!.source === 'command_events' && events[0]!.entry.data).toEqual({ a: 1 });
  });

  it('one process at a time: a second holder is CONSUMER_BUSY until the lease is released or expires', async () => {
    const a = await openConsumer(tally, 'lease', { start: 'now', leaseMs: 30_000 });
    const b = await openConsumer(tally, 'lease', { leaseMs: 30_000 });
    await a.once(async () => {});
    await rejects(
      b.once(async () => {}),
      'CONSUMER_BUSY',
    );
    await rejects(b.replay('beginning'), 'CONSUMER_BUSY');
    await a.release();
    await touch([80]);
    expect(await drain(b)).toHaveLength(1);
    // b now holds it; a's next batch (after its lease ran out and b took over) cannot move the checkpoint.
    await rejects(
      a.once(async () => {}),
      'CONSUMER_BUSY',
    );
  });

  it('a handler that outlasts the lease keeps it (heartbeat): a standby stays out meanwhile', async () => {
    const real = await createTally({ db: t.db }); // leases on the wall clock
    const a = await openConsumer(real, 'heartbeat', { start: 'now', leaseMs: 600 });
    const b = await openConsumer(real, 'heartbeat', { leaseMs: 600 });
    await touch([95]);
    const tries: string[] = [];
    await a.once(async () => {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 300)); // 1.5 s in all, two and a half leases
        tries.push(await b.once(async () => {}).then(String, (e) => e.code));
      }
    });
    expect(tries).toEqual(Array(5).fill('CONSUMER_BUSY'));
  });

  it('a standby takes over an expired lease; the stale holder gets FEED_LEASE_LOST and moves nothing', async () => {
    let clock = Date.parse('2026-03-01T00:00:00Z');
    const t1 = await createTally({ db: t.db, clock: () => new Date(clock) });
    const a = await openConsumer(t1, 'standby', { start: 'now', leaseMs: 1_000 });
    const b = await openConsumer(t1, 'standby', { leaseMs: 1_000 });
    await touch([90, 91]);
    await expect(
      a.once(async () => {
        clock += 5_000; // a stalls past its lease; b takes over and delivers the same entries
        expect(await drain(b)).toHaveLength(2);
      }),
    ).rejects.toSatisfy((e) => isTallyError(e, 'FEED_LEASE_LOST'));
    expect((await b.position()).upper).toBeNull();
    expect(await b.lag()).toMatchObject({ entries: 0 });
  });

  it('dropConsumer: refused while held, then checkpoint and inbox are gone and the name starts over', async () => {
    const c = await openConsumer(tally, 'dropme', { start: 'beginning', batchSize: 5 });
    await c.once(async ({ entries }) => {
      await t.db.transaction((tx) => applyOnce(tx, c, entries[0]!, async () => {}));
    });
    await rejects(dropConsumer(tally, 'dropme'), 'CONSUMER_BUSY');
    await c.release();
    await dropConsumer(tally, 'dropme');
    expect(await count(t.db, `SELECT 1 FROM tally.feed_inbox WHERE consumer = 'dropme'`)).toBe(0);
    await rejects(dropConsumer(tally, 'dropme'), 'CONSUMER_NOT_FOUND');
    await rejects(openConsumer(tally, 'dropme', { mustExist: true }), 'CONSUMER_NOT_FOUND');
  });

  it('bad input gets typed errors and writes nothing', async () => {
    const consumers = () => count(t.db, 'SELECT 1 FROM tally.feed_consumers');
    const n = await consumers();
    await rejects(openConsumer(tally, 'bad name!'), 'INVALID_CONSUMER_NAME');
    await rejects(openConsumer(tally, ''), 'INVALID_CONSUMER_NAME');
    await rejects(openConsumer(tally, 'nope', { mustExist: true }), 'CONSUMER_NOT_FOUND');
    await rejects(openConsumer(tally, 'x', { batchSize: 0 }), 'INVALID_FEED_OPTIONS');
    await rejects(openConsumer(tally, 'x', { source: 'jobs' as never }), 'INVALID_FEED_OPTIONS');
    await rejects(openConsumer(tally, 'x', { types: [] }), 'INVALID_FEED_OPTIONS');
    await rejects(openConsumer(tally, 'x', { start: 'yesterday' as never }), 'INVALID_FEED_OPTIONS');
    await rejects(openConsumer(tally, 'x', { listen: {} as never }), 'INVALID_FEED_OPTIONS');
    await rejects(openConsumer(tally, 'restart', { source: 'command_events' }), 'INVALID_FEED_OPTIONS');
    expect(await consumers()).toBe(n);
    const c = await openConsumer(tally, 'restart');
    const pos = await c.position();
    for (const p of [
      { ...pos, snapshot: 'nonsense' },
      { ...pos, snapshot: '10:5:' },
      { ...pos, snapshot: '5:10:7,6' },
      { ...pos, upper: pos.snapshot, afterId: null },
      { ...pos, upper: pos.snapshot, afterId: '1; DROP TABLE x' },
      { ...pos, source: 'command_events' },
      { ...pos, snapshot: '100:200:', upper: '50:60:', afterId: '5' },
      { id: 0 },
      { id: 'abc' },
      { at: new Date('x') },
      42,
    ]) {
      await rejects(c.replay(p as never), 'INVALID_FEED_POSITION');
    }
    expect(await c.position()).toEqual(pos);
    const ac = new AbortController();
    const running = c.run(async () => {}, { signal: ac.signal });
    await rejects(
      c.run(async () => {}),
      'INVALID_FEED_OPTIONS',
    ); // already running in this process
    ac.abort();
    await running;
  });
});

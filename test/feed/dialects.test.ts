import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { applyOnce, dropConsumer, type FeedConsumer, openConsumer } from '../../src/feed/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

type Entity = ReturnType<Tally['entity']>;

/** A resources table in the dialect's own DDL (the one thing these tests write per dialect). */
async function table(t: TestDatabase, name: string, n: number): Promise<void> {
  const [text, int] = t.dialect === 'mariadb' ? ['VARCHAR(64)', 'BIGINT'] : ['text', 'bigint'];
  await t.db.exec(`CREATE TABLE ${name} (id ${int} PRIMARY KEY, state ${text} NOT NULL,
    version int NOT NULL DEFAULT 0)`);
  const values = Array.from({ length: n }, (_, i) => `(${i + 1}, 'active', 0)`);
  await t.db.exec(`INSERT INTO ${name} (id, state, version) VALUES ${values.join(', ')}`);
}

async function drain(c: FeedConsumer): Promise<string[]> {
  const ids: string[] = [];
  while ((await c.once(async ({ entries }) => void ids.push(...entries.map((e) => e.id)))) > 0) {}
  return ids;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(isTallyError(err), String(err)).toBe(true);
  return err.code;
}

// One body for PGlite, PostgreSQL and MariaDB: the feed's core consumer contract (decisions 0040, 0041,
// 0134) through the dialect seam — checkpoints, redelivery after a failed handler, leases, replay, lag,
// the inbox and exactly-once into the same database.
describeEachDialect(
  'feed consumers on every dialect',
  (fresh) => {
    let t: TestDatabase;
    let tally: Tally;
    let res: Entity;
    let now = new Date('2026-01-01T00:00:00Z');
    const logIds = async () =>
      (
        await t.db.query<{ id: string }>({
          text:
            t.dialect === 'mariadb'
              ? 'SELECT CAST(l.id AS CHAR) AS id FROM tally_log l ORDER BY l.id'
              : 'SELECT l.id::text AS id FROM tally.log l ORDER BY l.id',
        })
      ).map((r) => String(r.id));
    // Each call moves every key once (active <-> frozen): one log row per key, in key order.
    const flip = async (keys: number[], to: 'frozen' | 'active') => {
      await res.transition({ keys, to, actor: 'test' });
    };

    beforeAll(async () => {
      t = await fresh();
      await table(t, 'f_items', 50);
      tally = await createTally({ db: t.db, clock: () => now });
      await tally.migrate();
      res = tally.entity('f_item', { table: 'f_items', states: RESOURCE_STATES });
    });
    afterAll(() => t.close());

    it('delivers every committed entry once, in id order, in batches; the checkpoint survives a reopen', async () => {
      await flip([1, 2, 3, 4, 5], 'frozen');
      await flip([6, 7], 'frozen');
      const c = await openConsumer(tally, 'core', { batchSize: 3 });
      const batches: string[][] = [];
      while ((await c.once(async ({ entries }) => void batches.push(entries.map((e) => e.id)))) > 0) {}
      expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
      expect(batches.flat()).toEqual(await logIds());
      await c.release();

      const again = await openConsumer(tally, 'core', { batchSize: 3 });
      expect(await drain(again)).toEqual([]);
      await flip([1, 2], 'active');
      const fresh2 = await drain(again);
      expect(fresh2).toEqual((await logIds()).slice(-2));
      expect((await again.lag()).entries).toBe(0);
      await again.release();
    });

    it('a handler that throws leaves the checkpoint: the batch comes again, then nothing twice', async () => {
      const c = await openConsumer(tally, 'retry', { start: 'now' });
      await flip([10, 11, 12], 'frozen');
      const err = await c
        .once(async () => {
          throw new Error('downstream down');
        })
        .catch((e) => e);
      expect(String(err)).toContain('downstream down');
      expect((await c.lag()).entries).toBe(3);
      const ids = await drain(c);
      expect(ids).toEqual((await logIds()).slice(-3));
      expect(await drain(c)).toEqual([]);
      await c.release();
    });

    it('one process holds a consumer: a second is CONSUMER_BUSY until the lease ends, then resumes from the checkpoint', async () => {
      const a = await openConsumer(tally, 'leased', { start: 'now', leaseMs: 10_000 });
      const b = await openConsumer(tally, 'leased', { leaseMs: 10_000 });
      await flip([13, 14], 'frozen');
      const first = await a.once(async () => {}); // a holds the lease
      expect(first).toBe(2);
      await flip([15], 'frozen');
      expect(await codeOf(b.once(async () => {}))).toBe('CONSUMER_BUSY');
      now = new Date(now.getTime() + 11_000); // a's lease runs out (a crashed, say)
      const got = await drain(b);
      expect(got).toEqual((await logIds()).slice(-1));
      // a comes back: b holds the lease now, so a delivers nothing.
      await flip([16], 'frozen');
      expect(await codeOf(a.once(async () => {}))).toBe('CONSUMER_BUSY');
      await b.release();
    });

    it('replay from the beginning, from an id and from now; lag counts what is left', async () => {
      const c = await openConsumer(tally, 'replayed');
      const all = await drain(c);
      expect(all).toEqual(await logIds());
      await c.replay('beginning');
      expect((await c.lag()).entries).toBe(all.length);
      expect(await drain(c)).toEqual(all);
      await c.replay({ id: all[all.length - 3]! });
      expect(await drain(c)).toEqual(all.slice(-3));
      await c.replay('now');
      expect(await drain(c)).toEqual([]);
      await c.release();
      expect(await codeOf(dropConsumer(tally, 'nope'))).toBe('CONSUMER_NOT_FOUND');
      await dropConsumer(tally, 'replayed');
      expect(await codeOf(openConsumer(tally, 'replayed', { mustExist: true }))).toBe('CONSUMER_NOT_FOUND');
    });

    it('in a transaction: the handler writes and the checkpoint commit together; a throw rolls both back; the inbox absorbs a redelivery', async () => {
      await t.db.exec(
        t.dialect === 'mariadb'
          ? 'CREATE TABLE f_seen (entry_id BIGINT PRIMARY KEY)'
          : 'CREATE TABLE f_seen (entry_id bigint PRIMARY KEY)',
      );
      const insert =
        t.dialect === 'mariadb' ? 'INSERT INTO f_seen VALUES (?)' : 'INSERT INTO f_seen VALUES ($1)';
      const c = await openConsumer(tally, 'tx', { start: 'now' });
      await flip([20, 21, 22, 23], 'frozen');
      let fail = true;
      const handler = async ({ entries }: { entries: readonly { id: string }[] }, tx: never) => {
        for (const e of entries) {
          await applyOnce(tx, c, e as never, (x) => x.query({ text: insert, values: [e.id] }));
        }
        if (fail) throw new Error('crash before commit');
      };
      await expect(c.onceInTransaction(handler as never)).rejects.toThrow('crash before commit');
      const [n0] = await t.db.query<{ n: number }>({ text: 'SELECT COUNT(*) AS n FROM f_seen' });
      expect(Number(n0!.n)).toBe(0);
      fail = false;
      expect(await c.onceInTransaction(handler as never)).toBe(4);
      const seen = await t.db.query<{ entry_id: string }>({
        text: 'SELECT entry_id FROM f_seen ORDER BY entry_id',
      });
      expect(seen.map((r) => String(r.entry_id))).toEqual((await logIds()).slice(-4));
      // A redelivery (replayed by hand) is absorbed by the inbox: nothing applied twice.
      await c.replay({ id: (await logIds()).slice(-4)[0]! });
      expect(await c.onceInTransaction(handler as never)).toBe(4);
      const [n1] = await t.db.query<{ n: number }>({ text: 'SELECT COUNT(*) AS n FROM f_seen' });
      expect(Number(n1!.n)).toBe(4);
      await c.release();
    });
  },
  { mysql: true },
);

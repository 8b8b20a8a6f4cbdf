import type { Pool, PoolConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinMysql } from '../../src/db/mysql/index.js';
import { type FeedConsumer, openConsumer, pruneFeedSeqs } from '../../src/feed/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshMariadb, mariadbAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

type Entity = ReturnType<Tally['entity']>;
interface Got {
  id: string;
  key: string;
  version: number;
}

/** Every entry the consumer has left, one batch at a time. */
async function drain(c: FeedConsumer): Promise<Got[]> {
  const got: Got[] = [];
  while (
    (await c.once(async ({ entries }) => {
      for (const e of entries) {
        if (e.source === 'log') got.push({ id: e.id, key: e.entry.entity_key, version: e.entry.version });
      }
    })) > 0
  ) {}
  return got;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Decision 0134: on MariaDB the feed's windows are taken over the seqs of committed log-writing statements
// (no commit-ordered id in InnoDB). A transaction that took a lower seq and a lower log id stays open
// while later ones commit: the feed delivers the later ones, holds the open one back without skipping it,
// and hands it out once it commits — after them, which is commit order. A rolled-back one does not stall
// the feed.
describe.skipIf(!mariadbAvailable)('feed on MariaDB: gap-free in commit order (decision 0134)', () => {
  let t: TestDatabase;
  let pool: Pool;
  let tally: Tally;
  let res: Entity;
  const logIds = async () =>
    (
      await t.db.query<{ id: string }>({
        text: 'SELECT CAST(l.id AS CHAR) AS id FROM tally_log l ORDER BY l.id',
      })
    ).map((r) => String(r.id));
  const open = async (): Promise<PoolConnection> => {
    const conn = await pool.getConnection();
    await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.beginTransaction();
    return conn;
  };

  beforeAll(async () => {
    t = await freshMariadb(16);
    pool = t.mysqlPool!;
    await t.db.exec(`CREATE TABLE h_items (id BIGINT PRIMARY KEY, state VARCHAR(16) NOT NULL,
      version INT NOT NULL DEFAULT 0)`);
    const values = Array.from({ length: 400 }, (_, i) => `(${i + 1}, 'active', 0)`);
    await t.db.exec(`INSERT INTO h_items (id, state, version) VALUES ${values.join(', ')}`);
    tally = await createTally({ db: t.db });
    await tally.migrate();
    res = tally.entity('h_item', { table: 'h_items', states: RESOURCE_STATES });
  });
  afterAll(() => t.close());

  it('holds back an open lower-numbered transaction without skipping it, and delivers it after the later ones once it commits', async () => {
    const c = await openConsumer(tally, 'held', { batchSize: 2 });
    const held = await open();
    await res.transition({ key: 1, to: 'frozen', actor: 'slow', tx: joinMysql(held) });
    const [heldRow] = await held.query('SELECT CAST(MAX(id) AS CHAR) AS id FROM tally_log');
    const heldId = String((heldRow as { id: string }[])[0]!.id);
    for (const k of [2, 3, 4, 5, 6]) await res.transition({ key: k, to: 'frozen', actor: 'fast' });

    const first = await drain(c);
    expect(first.map((g) => g.key)).toEqual(['2', '3', '4', '5', '6']);
    // The held entry's id is lower than everything delivered: an `id > last seen` cursor skips it forever.
    expect(first.every((g) => BigInt(g.id) > BigInt(heldId))).toBe(true);
    expect(await drain(c)).toEqual([]); // still open: nothing, however often we ask
    expect((await c.position()).snapshot).not.toBe('1:1:');

    await held.commit();
    held.release();
    const second = await drain(c);
    expect(second).toEqual([{ id: heldId, key: '1', version: 1 }]);
    // Every log row exactly once; the held one after the later ones, as they committed.
    expect([...first, ...second].map((g) => g.id).sort()).toEqual((await logIds()).sort());
  });

  it('a rolled-back transaction leaves no entry and does not stall the feed', async () => {
    const c = await openConsumer(tally, 'rolled', { start: 'now' });
    const doomed = await open();
    await res.transition({ key: 7, to: 'frozen', actor: 'doomed', tx: joinMysql(doomed) });
    await res.transition({ key: 8, to: 'frozen', actor: 'fast' });
    expect((await drain(c)).map((g) => g.key)).toEqual(['8']);
    const pos = await c.position();
    expect(pos.snapshot.split(':')[2]).not.toBe(''); // the open seq is listed as in flight
    await doomed.rollback();
    doomed.release();
    expect(await drain(c)).toEqual([]);
    await res.transition({ key: 9, to: 'frozen', actor: 'after' });
    expect((await drain(c)).map((g) => g.key)).toEqual(['9']);
    const after = (await c.position()).snapshot.split(':');
    expect(after[2]).toBe(''); // the rolled-back seq was proven dead: nothing in flight, xmin = xmax
    expect(after[0]).toBe(after[1]);
    const [dead] = await t.db.query<{ n: number }>({
      text: 'SELECT COUNT(*) AS n FROM tally_log_tx WHERE dead',
    });
    expect(Number(dead!.n)).toBe(1);
  });

  it('under concurrent writers that sleep before COMMIT: every entry once, each entity in version order, while an id cursor skips', async () => {
    const c = await openConsumer(tally, 'busy', { start: 'now', batchSize: 50 });
    const startIds = new Set(await logIds());
    const got: Got[] = [];
    let naiveLast = 0n;
    const naive = new Set<string>();
    let writing = true;
    const reader = (async () => {
      while (writing) {
        got.push(...(await drain(c)));
        // The cursor decision 0040 rejects: ids above the largest seen so far.
        const rows = await t.db.query<{ id: string }>({
          text: 'SELECT CAST(id AS CHAR) AS id FROM tally_log WHERE id > ? ORDER BY id',
          values: [naiveLast.toString()],
        });
        for (const r of rows) naive.add(String(r.id));
        if (rows.length > 0) naiveLast = BigInt(rows[rows.length - 1]!.id);
        await sleep(5);
      }
    })();
    // 6 writers, 12 transactions each over 20 shared keys (flip frozen/active): row locks make same-key
    // writers wait on each other, and each sleeps 0-20 ms before COMMIT so commit order differs from id order.
    const writer = async (w: number) => {
      for (let i = 0; i < 12; i++) {
        const conn = await open();
        try {
          const keys = [100 + ((w * 7 + i * 3) % 20), 100 + ((w * 5 + i * 11) % 20)];
          for (const key of keys) {
            const [rows] = await conn.query('SELECT state FROM h_items WHERE id = ? FOR UPDATE', [key]);
            const state = (rows as { state: string }[])[0]!.state;
            await res.transition({
              key,
              to: state === 'active' ? 'frozen' : 'active',
              actor: `w${w}`,
              tx: joinMysql(conn),
            });
          }
          await sleep(Math.floor(Math.random() * 20));
          if (i % 5 === 4) await conn.rollback();
          else await conn.commit();
        } catch (err) {
          await conn.rollback();
          // A deadlock victim is rolled back whole: Tally's statement reports it typed (40P01), this test's
          // own SELECT … FOR UPDATE of two keys in either order as mysql2's raw 1213 (seen in CI).
          const deadlock = String(err).includes('40P01') || (err as { errno?: number }).errno === 1213;
          if (!deadlock) throw err;
        } finally {
          conn.release();
        }
      }
    };
    try {
      await Promise.all([0, 1, 2, 3, 4, 5].map(writer));
    } finally {
      writing = false; // a failed writer stops the reader too, before the pool closes under it
      await reader;
    }
    got.push(...(await drain(c)));

    const all = (await logIds()).filter((id) => !startIds.has(id));
    expect(got.map((g) => g.id).sort()).toEqual([...all].sort()); // none skipped, none twice
    const last = new Map<string, number>();
    for (const g of got) {
      expect(g.version, `entity ${g.key}`).toBe((last.get(g.key) ?? 0) + 1);
      last.set(g.key, g.version);
    }
    // What the id cursor saw is what this run shows the feed does not do: it misses entries.
    const missed = all.filter((id) => !naive.has(id)).length;
    console.log(`id cursor missed ${missed} of ${all.length}; the feed missed 0`);
  });
  it('pruning log_tx (decision 0135) keeps an open writer, deletes finished rows, and every consumer still gets every entry', async () => {
    const mid = await openConsumer(tally, 'mid', { batchSize: 7 });
    await mid.once(async () => {}); // stands inside the history when the rows go
    const held = await open();
    await res.transition({ key: 300, to: 'frozen', actor: 'slow', tx: joinMysql(held) });
    await res.transition({ key: 301, to: 'frozen', actor: 'fast' });
    const n = async (where: string) =>
      Number(
        (
          await t.db.query<{ n: number }>({ text: `SELECT COUNT(*) AS n FROM tally_log_tx WHERE ${where}` })
        )[0]!.n,
      );
    const deadBefore = await n('dead');
    const pruned = await pruneFeedSeqs(tally, { chunk: 50 });
    expect(pruned.deleted).toBeGreaterThan(50); // several chunks
    expect(await n(`seq < ${pruned.floor} AND NOT dead`)).toBe(1); // the highest one below the floor stays

    const late = await openConsumer(tally, 'late'); // from the beginning, after the prune
    const before = await drain(late);
    const [xmin, xmax, xip] = (await late.position()).snapshot.split(':');
    expect(xip).toBe(xmin); // only the open writer's seq is in flight: the pruned range is no gap
    expect(BigInt(xmin!)).toBeLessThan(BigInt(xmax!));
    expect(await n('dead')).toBe(deadBefore); // nothing below the floor was fenced again
    await held.commit();
    held.release();
    const after = await drain(late);
    expect(after.map((g) => g.key)).toEqual(['300']);
    const all = (await logIds()).sort();
    expect([...before, ...after].map((g) => g.id).sort()).toEqual(all);
    const rest = await drain(mid);
    expect(rest.length + 7).toBe(all.length);
  });
});

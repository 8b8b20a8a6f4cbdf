import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { openConsumer } from '../../src/feed/index.js';
import { CURRENT_SNAPSHOT } from '../../src/feed/sql.js';
import type { FeedEntry } from '../../src/feed/types.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

type Entity = ReturnType<Tally['entity']>;
type LogFeedEntry = Extract<FeedEntry, { source: 'log' }>;

// The interleaving that breaks a "txid below xmin, ordered by txid" cursor: T2 takes the LOWER xid
// (it writes entity B first), T1 takes a higher one and writes A v1, T2 then waits on A's row lock and
// writes A v2 after T1 commits. By txid, A v2 (T2) sorts before A v1 (T1).
describe.skipIf(!postgresAvailable)(
  'per-entity order when a lower xid waits on a row lock [postgres]',
  () => {
    let t: TestDatabase;
    let tally: Tally;
    let acct: Entity;
    beforeAll(async () => {
      t = await freshPostgres(8);
      await t.db.exec(`CREATE TABLE acct (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
        hits int NOT NULL DEFAULT 0);
      INSERT INTO acct SELECT g, 'open', 0, 0 FROM generate_series(1, 100) g;`);
      tally = await createTally({ db: t.db });
      await tally.migrate();
      acct = tally.entity('acct', { table: 'acct', states: { open: [] } });
    });
    afterAll(() => t.close());

    const xid = async (c: pg.PoolClient) =>
      (await c.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x as string;

    /** Runs the interleaving on entities a and b; `between` runs after T1 committed, before T2 commits. */
    async function interleave(a: number, b: number, between: () => Promise<void>) {
      const t2 = await t.pool!.connect();
      const t1 = await t.pool!.connect();
      try {
        await t2.query('BEGIN');
        await acct.update({ keys: [b], set: { hits: 1 }, actor: 't2', tx: t2 });
        const x2 = await xid(t2);
        await t1.query('BEGIN');
        await acct.update({ keys: [a], set: { hits: 1 }, actor: 't1', tx: t1 });
        const x1 = await xid(t1);
        const blocked = acct.update({ keys: [a], set: { hits: 2 }, actor: 't2', tx: t2 });
        // T2 is now waiting for A's row lock (held by T1).
        await waitForLockWait();
        await t1.query('COMMIT');
        await blocked;
        await between();
        await t2.query('COMMIT');
        return { x1: BigInt(x1), x2: BigInt(x2) };
      } finally {
        t1.release();
        t2.release();
      }
    }

    async function waitForLockWait() {
      for (let i = 0; i < 200; i++) {
        const r = await t.pool!.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (r.rows[0].n > 0) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('T2 never waited on the row lock');
    }

    const versionsOf = (entries: LogFeedEntry[], key: number) =>
      entries.filter((e) => e.entry.entity_key === String(key)).map((e) => e.entry.version);

    it('both commit before the consumer reads: one window, ordered by id, A v1 before A v2', async () => {
      const c = await openConsumer(tally, 'order-1', { start: 'now' });
      const { x1, x2 } = await interleave(1, 2, async () => {});
      expect(x2).toBeLessThan(x1); // the inversion is real
      const got: LogFeedEntry[] = [];
      while ((await c.once(async ({ entries }) => void got.push(...(entries as LogFeedEntry[])))) > 0) {}
      expect(versionsOf(got, 1)).toEqual([1, 2]);
      // A txid-ordered cursor would hand out A v2 first: the entries' own txids say so.
      const byTxid = [...got].sort(
        (p, q) => Number(BigInt(p.txid) - BigInt(q.txid)) || Number(p.id) - Number(q.id),
      );
      expect(versionsOf(byTxid, 1)).toEqual([2, 1]);
    });

    it('the consumer reads between the two commits: A v1 in one window, A v2 in the next', async () => {
      const c = await openConsumer(tally, 'order-2', { start: 'now' });
      const got: LogFeedEntry[] = [];
      const drain = async () => {
        while ((await c.once(async ({ entries }) => void got.push(...(entries as LogFeedEntry[])))) > 0) {}
      };
      let between: number[] = [];
      const { x1, x2 } = await interleave(3, 4, async () => {
        await drain();
        between = versionsOf(got, 3);
      });
      await drain();
      expect(x2).toBeLessThan(x1);
      expect(between).toEqual([1]); // T1's v1 was handed out while T2 (the lower xid) was still open
      expect(versionsOf(got, 3)).toEqual([1, 2]);
    });

    it("a checkpoint taken inside a transaction with an xid never calls that transaction's own rows delivered", async () => {
      // T assigns its xid, then a later transaction commits, so T's xid is below the snapshot's xmax
      // and PostgreSQL leaves it out of the xip list: "visible" unless Tally puts it back.
      const own = await t.pool!.connect();
      try {
        await own.query('BEGIN');
        const x = await xid(own);
        await acct.update({ keys: [50], set: { hits: 9 }, actor: 'other' }); // commits, xid > x
        const raw = (
          await own.query('SELECT pg_visible_in_snapshot($1::xid8, pg_current_snapshot()) AS v', [x])
        ).rows[0].v;
        const fixed = (
          await own.query(
            `SELECT pg_visible_in_snapshot($1::xid8, (${CURRENT_SNAPSHOT})::pg_snapshot) AS v`,
            [x],
          )
        ).rows[0].v;
        expect(raw).toBe(true); // the trap
        expect(fixed).toBe(false);
        await own.query('ROLLBACK');
      } finally {
        own.release();
      }
    });

    it('runInTransaction whose handler writes log rows: those rows are delivered later, not skipped', async () => {
      // The consumer's transaction takes its xid (row lock on the checkpoint) before it reads the
      // snapshot; a commit elsewhere right in between puts that xid below the snapshot's xmax.
      const inject = (tx: Executor): Executor => ({
        ...tx,
        async query(q) {
          const rows = await tx.query(q);
          if (/feed_consumers[\s\S]*FOR UPDATE/.test(q.text)) {
            await t.pool!.query('UPDATE acct SET hits = hits WHERE id = 99');
          }
          return rows as never;
        },
      });
      const db: Executor = { ...t.db, transaction: (fn, o) => t.db.transaction((tx) => fn(inject(tx)), o) };
      const tally2 = await createTally({ db });
      const c = await openConsumer(tally2, 'order-4', { start: 'now' });
      await acct.update({ keys: [60], set: { hits: 1 }, actor: 'seed' });
      const got: LogFeedEntry[] = [];
      await c.onceInTransaction(async ({ entries }, tx) => {
        got.push(...(entries as LogFeedEntry[]));
        await acct.update({ keys: [61], set: { hits: 1 }, actor: 'handler', tx });
      });
      await acct.update({ keys: [62], set: { hits: 1 }, actor: 'after' });
      while ((await c.once(async ({ entries }) => void got.push(...(entries as LogFeedEntry[])))) > 0) {}
      expect(got.map((e) => e.entry.entity_key)).toEqual(['60', '61', '62']);
    });
  },
);

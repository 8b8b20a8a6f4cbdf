import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AdoptProgress } from '../../src/changes/adopt.js';
import type { Entity } from '../../src/changes/entity.js';
import { sqlStateOf } from '../../src/db/errors.js';
import type { Executor } from '../../src/db/types.js';
import { checkEntries, reconcile } from '../../src/reconcile/index.js';
import type { Finding } from '../../src/reconcile/types.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

const kinds = (fs: readonly Finding[]) => fs.map((f) => `${f.key}:${f.kind}`).sort();
const logRows = (db: Executor) => count(db, `SELECT 1 FROM tally.log`);

// A table with history from before Tally: rows at versions 1..4 and at 0, none with a log entry.
// 1..12 at version (id % 4) + 1; 13..16 at version 0; 16 is then changed once through Tally (v1, logged).
async function seed(tally: Tally, db: Executor, table: string, name: string) {
  await db.exec(`
    CREATE TABLE ${table} (
      id      integer PRIMARY KEY,
      state   text    NOT NULL,
      version integer NOT NULL DEFAULT 0,
      owner   text,
      points  integer NOT NULL DEFAULT 0
    );
    INSERT INTO ${table} (id, state, version, owner, points)
      SELECT g, 'open', CASE WHEN g <= 12 THEN g % 4 + 1 ELSE 0 END, 'owner-' || g, g * 10
        FROM generate_series(1, 16) g;`);
  const entity = tally.entity(name, { table, states: { open: ['frozen'], frozen: ['open'] } });
  await entity.transition({ key: 16, to: 'frozen', actor: 'seed' });
  return entity;
}

describeEachDialect(
  'adopt: one genesis entry per existing row, then the reconciler checks from there',
  (fresh) => {
    let t: TestDatabase;
    let db: Executor;
    let tally: Tally;
    let accounts: Entity;
    let racing: Entity;
    beforeAll(async () => {
      t = await fresh();
      db = t.db;
      tally = await createTally({ db });
      await tally.migrate();
      accounts = await seed(tally, db, 'accounts', 'account');
      racing = await seed(tally, db, 'racing', 'racing');
    });
    afterAll(() => t.close());

    it('before adoption every versioned row without a log is a finding', async () => {
      const report = await reconcile([accounts]);
      expect(kinds(report.findings)).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}:no_log`).sort());
    });

    it('a dry run counts and writes nothing', async () => {
      const before = await logRows(db);
      const progress: AdoptProgress[] = [];
      const plan = await tally.adopt('account', {
        dryRun: true,
        chunkSize: 5,
        onProgress: (p) => progress.push(p),
      });
      expect(plan).toEqual({
        entity: 'account',
        dryRun: true,
        rows: 16,
        adopted: 12,
        logged: 1,
        unversioned: 3,
        chunks: 4,
      });
      expect(progress.every((p) => p.dryRun && p.total === 16 && p.phase === 'adopt')).toBe(true);
      expect(progress.map((p) => [p.done, p.adopted])).toEqual([
        [5, 5],
        [10, 10],
        [15, 12],
        [16, 12],
      ]);
      expect(await logRows(db)).toBe(before);
      expect((await reconcile([accounts])).total).toBe(12);
    });

    it('adopt writes one genesis entry per row, at its version, and the reconciler finds nothing', async () => {
      const images = await db.query<{ id: number; img: Record<string, unknown> }>({
        text: `SELECT id, to_jsonb(a) AS img FROM accounts a ORDER BY id`,
      });
      const r = await accounts.adopt({ chunkSize: 5, reason: 'adopting the accounts table' });
      expect(r).toEqual({
        entity: 'account',
        dryRun: false,
        rows: 16,
        adopted: 12,
        logged: 1,
        unversioned: 3,
        chunks: 4,
      });
      const h = await accounts.history(7);
      expect(h).toHaveLength(1);
      expect(h[0]).toMatchObject({
        version: 4, // 7 % 4 + 1: adopted at the version the row had
        action: 'adopt',
        actor: 'tally-adopt',
        reason: 'adopting the accounts table',
        before: null,
        prev_hash: null,
        after: images.find((x) => x.id === 7)!.img,
      });
      // The row's values are unchanged (it is rewritten as it was) and so is its version.
      const now = await db.query<{ img: Record<string, unknown> }>({
        text: `SELECT to_jsonb(a) AS img FROM accounts a ORDER BY id`,
      });
      expect(now.map((x) => x.img)).toEqual(images.map((x) => x.img));
      // Version-0 rows get nothing; the row Tally logged before keeps its one entry.
      expect(
        await count(
          db,
          `SELECT 1 FROM tally.log WHERE entity_type = 'account' AND entity_key IN ('13', '14', '15')`,
        ),
      ).toBe(0);
      expect(
        await count(db, `SELECT 1 FROM tally.log WHERE entity_type = 'account' AND entity_key = '16'`),
      ).toBe(1);

      const report = await reconcile([accounts]);
      expect(report.findings).toEqual([]);
      expect(report.ok).toBe(true);
      expect(await accounts.verify(7)).toMatchObject({ ok: true, entries: 1, lastVersion: 4, rowVersion: 4 });
      // The realtime check of delivered entries takes a genesis entry as a chain's start too.
      const delivered = await db.query<{ entity_type: string; entity_key: string; version: string }>({
        text: `SELECT entity_type, entity_key, version FROM tally.log WHERE entity_type = 'account' AND action = 'adopt'`,
      });
      expect(delivered).toHaveLength(12);
      const live = await checkEntries(
        [accounts],
        delivered.map((e) => ({ ...e, version: Number(e.version) })),
      );
      expect(live).toEqual([]);
    });

    it('adopting again writes nothing', async () => {
      const before = await logRows(db);
      const r = await accounts.adopt();
      expect(r).toMatchObject({ adopted: 0, logged: 13, unversioned: 3, rows: 16 });
      expect(await logRows(db)).toBe(before);
    });

    it('a Tally change of an adopted row chains from its genesis entry', async () => {
      await accounts.transition({ keys: [3, 7], to: 'frozen', actor: 'ops:alice' });
      await accounts.update({ key: 8, set: { points: 1 }, actor: 'ops:alice' });
      const h = await accounts.history(7);
      expect(h.map((e) => [e.version, e.action])).toEqual([
        [4, 'adopt'],
        [5, 'transition'],
      ]);
      expect(h[1]!.prev_hash).toBe(h[0]!.hash);
      expect(h[1]!.before).toEqual(h[0]!.after);
      expect((await reconcile([accounts])).findings).toEqual([]);
      expect((await accounts.verify(8)).ok).toBe(true);
    });

    it('rows written around Tally after adoption are still reported', async () => {
      await db.exec(`INSERT INTO accounts (id, state, version, owner) VALUES (40, 'open', 3, 'late')`);
      await db.exec(`UPDATE accounts SET owner = 'mallory' WHERE id = 2`);
      await db.exec(`UPDATE accounts SET points = 0, version = version + 1 WHERE id = 5`);
      await db.exec(`DELETE FROM accounts WHERE id = 6`);
      const report = await reconcile([accounts]);
      expect(kinds(report.findings)).toEqual(
        ['2:row_changed_outside_log', '40:no_log', '5:version_ahead_of_log', '6:log_without_row'].sort(),
      );
    });

    it('an edited genesis entry is reported (against the row; no hash since decision 0065)', async () => {
      await db.exec(
        `UPDATE tally.log SET after = jsonb_set(after, '{points}', '1') WHERE entity_type = 'account' AND entity_key = '9'`,
      );
      const report = await reconcile([accounts]);
      expect(kinds(report.findings)).toContain('9:row_changed_outside_log');
      expect((await accounts.verify(9)).ok).toBe(false);
    });

    it('bad options are refused before anything is read', async () => {
      await expect(accounts.adopt({ chunkSize: 0 })).rejects.toMatchObject({
        code: 'INVALID_RECONCILE_OPTIONS',
      });
      await expect(accounts.adopt({ dryRun: 'yes' as never })).rejects.toMatchObject({
        code: 'INVALID_RECONCILE_OPTIONS',
      });
      await expect(tally.adopt('nobody')).rejects.toMatchObject({ code: 'UNKNOWN_ENTITY' });
      await expect(tally.adopt({} as never)).rejects.toMatchObject({ code: 'UNKNOWN_ENTITY' });
    });

    // A change through Tally that read the row before adoption committed must not start a second chain
    // beside the genesis entry. A row lock alone would not stop a REPEATABLE READ transaction that read the
    // row earlier: adoption rewrites the row (unchanged), so such a transaction fails and runs again.
    it('a transaction whose snapshot predates adoption fails and, run again, chains from the genesis entry', async ({
      skip,
    }) => {
      if (!t.pool) skip(); // PGlite has one connection: no second transaction runs beside adoption
      const client = await t.pool!.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await client.query('SELECT count(*) FROM racing'); // the snapshot is taken here
        expect((await racing.adopt()).adopted).toBe(12);
        const err = await racing
          .transition({ key: 5, to: 'frozen', actor: 'ops:bob', tx: client })
          .catch((e: unknown) => e);
        expect(sqlStateOf(err)).toBe('40001');
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      await racing.transition({ key: 5, to: 'frozen', actor: 'ops:bob' });
      const h = await racing.history(5);
      // One version sequence from the genesis entry (no hash chain since decision 0065).
      expect(h.map((e) => [e.version, e.action])).toEqual([
        [2, 'adopt'],
        [3, 'transition'],
      ]);
      expect(h[1]!.before).toEqual(h[0]!.after);
      expect((await racing.verify(5)).problems).toEqual([]);
      expect((await reconcile([racing])).findings).toEqual([]);
    });

    it('a Tally change that holds a row while adoption runs keeps its own entries; adoption waits, then skips the row', async ({
      skip,
    }) => {
      if (!t.pool) skip(); // PGlite has one connection
      const waiting = await seed(tally, db, 'waiting', 'waiting');
      const client = await t.pool!.connect();
      try {
        await client.query('BEGIN');
        // Row 5 (version 2, no entry) changed through Tally in a transaction still open: it holds the lock.
        await waiting.transition({ key: 5, to: 'frozen', actor: 'ops:carol', tx: client });
        const adopting = waiting.adopt();
        const waits = `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
        for (let i = 0; i < 200 && (await count(db, waits)) === 0; i++)
          await new Promise((r) => setTimeout(r, 25));
        expect(await count(db, waits)).toBe(1); // adoption waits for row 5
        await client.query('COMMIT');
        expect(await adopting).toMatchObject({ adopted: 11, logged: 2 });
      } finally {
        client.release();
      }
      // One chain for row 5: the change's own entry (it started before adoption: no entry at version 2).
      expect((await waiting.history(5)).map((e) => [e.version, e.action])).toEqual([[3, 'transition']]);
      expect(kinds((await reconcile([waiting])).findings)).toEqual(['5:version_gap']);
    });
  },
);

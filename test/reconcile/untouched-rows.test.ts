import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import type { Executor } from '../../src/db/types.js';
import { applyRepair, planRepair, reconcile } from '../../src/reconcile/index.js';
import { untouchedSql } from '../../src/reconcile/sql.js';
import { createTally } from '../../src/tally.js';
import { debitFixture } from '../commands/support/debit.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

// Decision 0057: a row whose tuple header (xmin, cmin) equals that of the log entry at its version was
// written by the entry's own statement, so its columns are not compared. To see which rows are compared,
// the tracked column `mood` is an enum with a cast to json that counts its calls: the check compares it
// as `to_jsonb(t.mood)`, which calls the cast (so does every `to_jsonb(t)` row image, so the counter is
// read around one check). `mood` is the first tracked column, so every compared row calls it once; each
// flagged key's detail look-up (`to_jsonb(t)`) calls it once more.
const SCHEMA = `
  CREATE SEQUENCE compared;
  CREATE TYPE mood AS ENUM ('calm', 'busy', 'odd');
  CREATE FUNCTION mood_json(m mood) RETURNS json LANGUAGE plpgsql VOLATILE AS $$
    BEGIN PERFORM nextval('compared'); RETURN to_json(m::text); END $$;
  CREATE CAST (mood AS json) WITH FUNCTION mood_json(mood);
  CREATE TABLE tasks (id integer PRIMARY KEY, mood mood NOT NULL DEFAULT 'calm', state text NOT NULL,
                      version integer NOT NULL DEFAULT 0, note text);
  -- Triggers: a BEFORE trigger's change is part of the writing statement (and of its RETURNING image);
  -- an AFTER trigger's UPDATE is a later command, i.e. a change the log does not hold.
  CREATE TABLE tickets (id integer PRIMARY KEY, mood mood NOT NULL DEFAULT 'calm', state text NOT NULL,
                        version integer NOT NULL DEFAULT 0, note text);
  CREATE FUNCTION tickets_before() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.note := 'seen in ' || NEW.state; RETURN NEW; END $$;
  CREATE TRIGGER tickets_before BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_before();
  CREATE FUNCTION tickets_after() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE tickets SET mood = 'odd' WHERE id = NEW.id AND mood <> 'odd'; RETURN NULL; END $$;
  CREATE TRIGGER tickets_after AFTER UPDATE ON tickets FOR EACH ROW WHEN (NEW.state = 'done')
    EXECUTE FUNCTION tickets_after();
  -- An entity declared on a view: no tuple headers to read.
  CREATE TABLE notes_base (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0, body text);
  CREATE VIEW notes AS SELECT * FROM notes_base;`;

const N = 30;
const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, state: 'open', note: `n-${i + 1}` }));
const keysOf = (r: { findings: readonly { key: string; kind: string }[] }) =>
  r.findings.map((f) => `${f.key}:${f.kind}`).sort();

describeEachDialect(
  'reconcile: rows untouched since their log entry are vouched for by the tuple header',
  (fresh) => {
    let t: TestDatabase;
    let db: Executor;
    let tasks: Entity;
    let tickets: Entity;
    let notes: Entity;
    /** The check (no chains) and how many times it compared `mood` of a row. */
    const check = async (e: Entity) => {
      const read = async () => {
        const [r] = await db.query<{ n: string }>({
          text: `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM compared`,
        });
        return Number(r!.n);
      };
      const before = await read();
      const report = await reconcile([e], { chains: false });
      return { report, compared: (await read()) - before };
    };

    beforeAll(async () => {
      t = await fresh();
      db = t.db;
      await db.exec(SCHEMA);
      const tally = await createTally({ db });
      await tally.migrate();
      tasks = tally.entity('task', { table: 'tasks', states: { open: ['done'], done: ['open'] } });
      tickets = tally.entity('ticket', {
        table: 'tickets',
        states: { open: ['held', 'done'], held: [], done: [] },
      });
      notes = tally.entity('note', { table: 'notes', states: { open: ['done'], done: [] } });
      await tasks.create({ rows: rows(N), actor: 'seed' });
      await tickets.create({ rows: rows(4), actor: 'seed' });
    });
    afterAll(() => t.close());

    it('compares no column of a row last written by any Tally writer (create, transition, update, repair)', async () => {
      // Without a caller's transaction, a transition is one statement at REPEATABLE READ (decision 0005).
      await tasks.transition({ keys: [1, 2, 3], to: 'done', actor: 'a' });
      // In the caller's transaction: lock, then the change statement (the row keeps the writer's own lock).
      await db.transaction((tx) => tasks.transition({ keys: [4, 5, 6], to: 'done', actor: 'a', tx }));
      await tasks.update({ keys: [7, 8], set: { note: 'updated', mood: 'busy' }, actor: 'a' });
      // A drift, repaired: the repair statement is then the row's last writer.
      await db.exec(`UPDATE tasks SET mood = 'odd' WHERE id = 9`);
      const drifted = await check(tasks);
      expect(keysOf(drifted.report)).toEqual(['9:row_changed_outside_log']);
      await applyRepair([tasks], planRepair(drifted.report), { actor: 'ops', reason: 'test' });

      const { report, compared } = await check(tasks);
      expect(report.findings).toEqual([]);
      expect(report.entities[0]).toMatchObject({ rows: N });
      // The full comparison would have compared all 30 rows.
      expect(compared).toBe(0);
    });

    it('finds a row changed around the log in the same transaction as its Tally change', async () => {
      await db.transaction(async (tx) => {
        await tasks.transition({ keys: [10, 11], to: 'done', actor: 'a', tx });
        await tx.exec(`UPDATE tasks SET mood = 'odd' WHERE id = 10`);
        // The same values written again: a new command id, and the comparison then finds nothing.
        await tx.exec(`UPDATE tasks SET mood = mood, note = note WHERE id = 11`);
      });
      const { report, compared } = await check(tasks);
      await applyRepair([tasks], planRepair(report), { actor: 'ops', reason: 'test' });
      expect(keysOf(report)).toEqual(['10:row_changed_outside_log']);
      expect(report.findings[0]!.details).toMatchObject({ columns: ['mood'], row: { mood: 'odd' } });
      // Rows 10 and 11 compared, and row 10's details read: nothing else.
      expect(compared).toBe(3);
    });

    it('is not fooled by a combo command id: a write of the row rolled back in a savepoint of that transaction', async () => {
      await db.transaction(async (tx) => {
        // Lock, check, update: the lock takes a command id of its own, which puts the combo id below on
        // the entry's (the single-key change is one statement, decision 0124).
        await tx.exec(`SELECT 1 FROM tasks WHERE id = 12 FOR UPDATE`);
        await tasks.transition({ keys: [12], to: 'done', actor: 'a', tx });
        await tx.exec(`UPDATE tasks SET note = 'around the log' WHERE id = 12`);
        await tx.exec(
          `SAVEPOINT s; UPDATE tasks SET note = 'rolled back' WHERE id = 12; ROLLBACK TO SAVEPOINT s`,
        );
      });
      // The precondition that makes this case matter: the surviving version's cmin field now holds the
      // combo id of (cmin, cmax), which equals the cmin of the entry written by the transition.
      const [h] = await db.query<{ same: boolean }>({
        text: `SELECT t.xmin = l.xmin AND t.cmin = l.cmin AS same FROM tasks t
               JOIN tally.log l ON l.entity_type = 'task' AND l.entity_key = t.id::text AND l.version = t.version
              WHERE t.id = 12`,
      });
      expect(h!.same).toBe(true);
      const { report } = await check(tasks);
      await applyRepair([tasks], planRepair(report), { actor: 'ops', reason: 'test' });
      expect(keysOf(report)).toEqual(['12:row_changed_outside_log']);
    });

    it('compares a row rewritten later with its own values, and finds nothing', async () => {
      await db.exec(`UPDATE tasks SET mood = mood WHERE id IN (13, 14)`);
      const { report, compared } = await check(tasks);
      expect(report.findings).toEqual([]);
      // Rows 13 and 14, and row 11 (rewritten the same way in the test before).
      expect(compared).toBe(3);
    });

    it('finds an after image edited in the log: the edit gives the entry a header of its own', async () => {
      await db.exec(
        `UPDATE tally.log SET after = jsonb_set(after, '{mood}', '"busy"') WHERE entity_type = 'task' AND entity_key = '15'`,
      );
      const { report } = await check(tasks);
      expect(keysOf(report)).toEqual(['15:row_changed_outside_log']);
      expect(report.findings[0]!.details).toMatchObject({ row: { mood: 'calm' }, log: { mood: 'busy' } });
    });

    it("trusts a BEFORE trigger's change (it is in the writer's image) and finds an AFTER trigger's UPDATE", async () => {
      await tickets.transition({ keys: [1], to: 'held', actor: 'a' });
      await tickets.transition({ keys: [2], to: 'done', actor: 'a' });
      const { report } = await check(tickets);
      expect(keysOf(report)).toEqual(['2:row_changed_outside_log']);
      expect(report.findings[0]!.details).toMatchObject({
        columns: ['mood'],
        row: { mood: 'odd' },
        log: { mood: 'calm' },
      });
      const [one] = await db.query<{ note: string }>({ text: `SELECT note FROM tickets WHERE id = 1` });
      expect(one!.note).toBe('seen in held');
    });

    it('compares every row of an entity declared on a view (a view has no tuple headers)', async () => {
      await notes.create({
        rows: [1, 2, 3].map((id) => ({ id, state: 'open', body: `b-${id}` })),
        actor: 'seed',
      });
      await notes.transition({ keys: [1], to: 'done', actor: 'a' });
      await db.exec(`UPDATE notes_base SET body = 'around the log' WHERE id = 2`);
      const report = await reconcile([notes], { chains: false });
      expect(keysOf(report)).toEqual(['2:row_changed_outside_log']);
    });

    it('precise: true compares every row (a column added with a default is in no after image)', async () => {
      await db.exec(`CREATE TABLE memos (id integer PRIMARY KEY, mood mood NOT NULL DEFAULT 'calm',
                                         state text NOT NULL, version integer NOT NULL DEFAULT 0)`);
      const tally = await createTally({ db });
      const memos = tally.entity('memo', { table: 'memos', states: { open: ['done'], done: [] } });
      await memos.create({ rows: [1, 2, 3].map((id) => ({ id, state: 'open' })), actor: 'seed' });
      // No table rewrite: the rows keep their headers, so the proof still vouches for them.
      await db.exec(`ALTER TABLE memos ADD COLUMN flag text NOT NULL DEFAULT 'x'`);
      // Declared again (an entity learns its table's columns once), as after a restart.
      const after = (await createTally({ db })).entity('memo', {
        table: 'memos',
        states: { open: ['done'], done: [] },
      });
      const trusting = await reconcile([after], { chains: false });
      expect(trusting.findings).toEqual([]);
      const deep = await reconcile([after], { chains: false, precise: true });
      expect(keysOf(deep)).toEqual(['1', '2', '3'].map((k) => `${k}:row_changed_outside_log`));
      const err = await reconcile([after], { precise: 'yes' as never }).catch((e) => e);
      expect(err.code).toBe('INVALID_RECONCILE_OPTIONS');
    });
  },
);

describeEachDialect('reconcile: a change command writes its row and entry in one statement', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it("the command's row is proven by its header; a row changed around it is compared and found", async () => {
    const fx = await debitFixture(t.db, 'hdr', [
      [1, 100],
      [2, 100],
    ]);
    await fx.debit.submit({ key: 'k1', principal: 'u1', input: { account: 1 } });
    await fx.debit.submit({ key: 'k2', principal: 'u1', input: { account: 2 } });
    await t.db.exec(`UPDATE ${fx.table} SET points = 5 WHERE id = 2`);
    const proven = await t.db.query<{ id: number; proven: boolean }>({
      text: `SELECT t.id, ${untouchedSql('t', 'l')} AS proven FROM ${fx.table} t
               JOIN tally.log l ON l.entity_type = $1 AND l.entity_key = t.id::text AND l.version = t.version
              ORDER BY t.id`,
      values: [fx.table],
    });
    expect(proven.map((r) => [r.id, r.proven])).toEqual([
      [1, true],
      [2, false],
    ]);
    const report = await reconcile([fx.entity], { chains: false });
    expect(keysOf(report)).toEqual(['2:row_changed_outside_log']);
  });
});

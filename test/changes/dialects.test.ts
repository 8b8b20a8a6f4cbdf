import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

/** A resources table in the dialect's own DDL (the one thing these tests write per dialect). */
async function table(t: TestDatabase, name: string, n: number): Promise<void> {
  const [text, int] = t.dialect === 'mariadb' ? ['VARCHAR(64)', 'BIGINT'] : ['text', 'bigint'];
  await t.db.exec(`CREATE TABLE ${name} (id ${int} PRIMARY KEY, state ${text} NOT NULL,
    version int NOT NULL DEFAULT 0, owner ${text})`);
  const values = Array.from({ length: n }, (_, i) => `(${i + 1}, 'active', 0, 'owner-${i + 1}')`);
  await t.db.exec(`INSERT INTO ${name} (id, state, version, owner) VALUES ${values.join(', ')}`);
}

async function rowOf(db: Executor, name: string, id: number) {
  const [r] = await db.query<{ state: string; version: number }>({
    text: `SELECT state, version FROM ${name} WHERE id = ${id}`,
  });
  return r ? { state: r.state, version: Number(r.version) } : null;
}

// One body for PGlite, PostgreSQL and MariaDB: the audited change path through the dialect seam.
describeEachDialect(
  'audited changes on every dialect',
  (fresh) => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await fresh();
      await (await createTally({ db: t.db })).migrate();
    });
    afterAll(() => t.close());

    it('one key, a list and a filter: versions, one log row each, before/after images, history, stateAt', async () => {
      await table(t, 'd_paths', 6);
      const tally = await createTally({ db: t.db });
      const e = tally.entity('d_paths', { table: 'd_paths', states: RESOURCE_STATES });
      expect(await e.transition({ key: 1, to: 'frozen', actor: 'ops:a', reason: 'one' })).toMatchObject({
        changed: [1],
      });
      expect((await e.transition({ keys: [2, 3, 1], to: 'frozen', actor: 'ops:b' })).changed).toEqual([2, 3]);
      const byFilter = await e.transition({ where: { state: 'frozen' }, to: 'active', actor: 'ops:c' });
      expect([...byFilter.changed].sort()).toEqual([1, 2, 3]);
      expect(await rowOf(t.db, 'd_paths', 1)).toEqual({ state: 'active', version: 2 });

      const h = await e.history(1);
      expect(h.map((x) => [x.version, x.action, x.actor])).toEqual([
        [1, 'transition', 'ops:a'],
        [2, 'transition', 'ops:c'],
      ]);
      expect(h[0]!.before).toEqual({ id: 1, state: 'active', version: 0, owner: 'owner-1' });
      expect(h[0]!.after).toEqual({ id: 1, state: 'frozen', version: 1, owner: 'owner-1' });
      expect(h[1]!.before).toEqual(h[0]!.after);
      expect(h[0]!.changed).toEqual(['state', 'version']);
      expect(h[0]!.reason).toBe('one');
      expect(await e.stateAt(1, { version: 1 })).toEqual(h[0]!.after);
      expect(await e.stateAt(1, { version: 0 })).toEqual(h[0]!.before);
      expect(await e.stateAt(1, { at: new Date(Date.now() + 60_000) })).toEqual(h[1]!.after);
      expect(await e.stateAt(6, { version: 3 })).toBeNull();
    });

    it('create writes version 1 and a create entry; an atomic refusal writes nothing, partial applies the rest', async () => {
      await table(t, 'd_refuse', 3);
      const tally = await createTally({ db: t.db });
      const e = tally.entity('d_refuse', { table: 'd_refuse', states: RESOURCE_STATES });
      await e.create({ rows: [{ id: 10, state: 'frozen', owner: 'new' }], actor: 'seed' });
      expect(await rowOf(t.db, 'd_refuse', 10)).toEqual({ state: 'frozen', version: 1 });
      const [created] = await e.history(10);
      expect(created).toMatchObject({ action: 'create', version: 1, before: null });
      expect(created!.after).toEqual({ id: 10, state: 'frozen', version: 1, owner: 'new' });

      const err = await e.transition({ keys: [1, 99], to: 'frozen', actor: 'a' }).catch((x) => x);
      expect(err).toMatchObject({ code: 'BATCH_REJECTED', details: { rejectedCount: 1 } });
      expect(await rowOf(t.db, 'd_refuse', 1)).toEqual({ state: 'active', version: 0 });
      expect(await e.history(1)).toEqual([]);
      await expect(e.transition({ key: 99, to: 'frozen', actor: 'a' })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });

      const partial = await e.transition({ keys: [1, 99, 2], to: 'frozen', actor: 'a', mode: 'partial' });
      expect(partial.changed).toEqual([1, 2]);
      expect(partial.rejected.map((r) => [r.key, r.reason])).toEqual([[99, 'not_found']]);
      expect(await rowOf(t.db, 'd_refuse', 2)).toEqual({ state: 'frozen', version: 1 });
    });

    it("joins the caller's transaction: rolled back, nothing of Tally's remains; committed, all of it", async () => {
      await table(t, 'd_join', 4);
      const tally = await createTally({ db: t.db });
      const e = tally.entity('d_join', { table: 'd_join', states: RESOURCE_STATES });
      const stop = new Error('caller rolls back');
      await expect(
        t.db.transaction(async (tx) => {
          await e.transition({ keys: [1, 2], to: 'frozen', actor: 'a', tx });
          throw stop;
        }),
      ).rejects.toBe(stop);
      expect(await rowOf(t.db, 'd_join', 1)).toEqual({ state: 'active', version: 0 });
      expect(await e.history(1)).toEqual([]);
      await t.db.transaction(async (tx) => {
        await e.transition({ keys: [3, 4], to: 'frozen', actor: 'a', tx });
      });
      expect((await e.history(3)).map((x) => x.version)).toEqual([1]);
    });
  },
  { mysql: true },
);

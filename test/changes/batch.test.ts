import { afterAll, beforeAll, expect, it } from 'vitest';
import { fullBeforeSql } from '../../src/changes/hash-sql.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, RESOURCE_STATES, recording, resourcesFixture } from '../support/resources.js';

describeEachDialect('batch changes', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('a batch of 1,000 writes 1,000 log rows with the right before/after/version/actor', async () => {
    const { resources } = await resourcesFixture(t.db, 1000, 'r_batch');
    const keys = Array.from({ length: 1000 }, (_, i) => i + 1);
    const r = await resources.transition({
      keys,
      to: 'frozen',
      actor: 'ops:alice',
      reason: 'audit',
      ip: '10.1.2.3',
    });
    expect(r.changed).toHaveLength(1000);
    expect(r.unchanged).toEqual([]);
    expect(r.rejected).toEqual([]);

    const rows = await t.db.query<Record<string, any>>({
      text: `SELECT entity_key, version::int AS version, action, actor, source_ip, reason, after, changed,
                    before AS stored_before, ${fullBeforeSql('l')} AS before
               FROM tally.log l WHERE entity_type = 'resource' ORDER BY entity_key::int`,
    });
    expect(rows).toHaveLength(1000);
    rows.forEach((row, i) => {
      const id = i + 1;
      expect(row.entity_key).toBe(String(id));
      expect(row.version).toBe(1);
      expect(row.action).toBe('transition');
      expect(row.actor).toBe('ops:alice');
      expect(row.source_ip).toBe('10.1.2.3');
      expect(row.reason).toBe('audit');
      expect(row.before).toEqual({ id, state: 'active', version: 0, owner: `owner-${id}`, amount: id * 1.5 });
      // Stored as the changed fields' old values (decision 0007); the full image above is derived.
      expect(row.stored_before).toEqual({ state: 'active', version: 0 });
      expect(row.after).toEqual({ id, state: 'frozen', version: 1, owner: `owner-${id}`, amount: id * 1.5 });
      expect(row.changed).toEqual(['state', 'version']);
    });
    expect(await count(t.db, `SELECT 1 FROM r_batch WHERE state = 'frozen' AND version = 1`)).toBe(1000);
  });

  it('one key and 1,000 keys take the same path: the same change statement (one key without a transaction around it)', async () => {
    await t.db.exec(`CREATE TABLE r_path (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO r_path SELECT g, 'active', 0 FROM generate_series(1, 2000) g;`);
    const rec = recording(t.db);
    const tally = await createTally({ db: rec.db });
    const e = tally.entity('r_path', { table: 'r_path', states: RESOURCE_STATES });
    await e.transition({ key: 2000, to: 'frozen', actor: 'a' }); // warms the table-shape cache
    rec.statements.length = 0;
    await e.transition({ key: 1, to: 'frozen', actor: 'a' });
    const single = [...rec.statements];
    rec.statements.length = 0;
    await e.transition({ keys: Array.from({ length: 1000 }, (_, i) => i + 2), to: 'frozen', actor: 'a' });
    const batch = [...rec.statements];
    // Decision 0066: one key is one autocommit statement; a batch runs the same statement at REPEATABLE
    // READ after one that sets jit and lock_timeout for its transaction.
    expect(single).toHaveLength(1);
    expect(batch).toHaveLength(2);
    expect(batch[1]).toEqual(single[0]);
    expect(await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'r_path'`)).toBe(1002);
  });

  it('already in the target state is unchanged: no log row, no version bump', async () => {
    const { resources } = await resourcesFixture(t.db, 10, 'r_idem');
    void resources;
    const tally = await createTally({ db: t.db });
    const e = tally.entity('r_idem', { table: 'r_idem', states: RESOURCE_STATES });
    await e.transition({ keys: [1, 2], to: 'frozen', actor: 'a' });
    const again = await e.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'a' });
    expect(again.changed).toEqual([3]);
    expect(again.unchanged).toEqual([1, 2]);
    expect(await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'r_idem'`)).toBe(3);
    expect(await count(t.db, `SELECT 1 FROM r_idem WHERE version = 1`)).toBe(3);
  });

  it('a filter selects rows and the result names their keys', async () => {
    await t.db.exec(`CREATE TABLE r_where (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, region text);
      INSERT INTO r_where SELECT g, 'active', 0, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 100) g;`);
    const tally = await createTally({ db: t.db });
    const e = tally.entity('r_where', { table: 'r_where', states: RESOURCE_STATES });
    const r = await e.transition({ where: { region: 'eu', state: 'active' }, to: 'frozen', actor: 'ops' });
    expect(r.changed).toHaveLength(50);
    expect(r.changed.every((k) => typeof k === 'number' && k % 2 === 0)).toBe(true);
    const none = await e.transition({ where: { region: 'eu', state: 'active' }, to: 'frozen', actor: 'ops' });
    expect(none.changed).toEqual([]);
    expect(await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'r_where'`)).toBe(50);
  });

  it('update sets fields through the same path and logs only real changes', async () => {
    await resourcesFixture(t.db, 20, 'r_upd');
    const tally = await createTally({ db: t.db });
    const e = tally.entity('r_upd', { table: 'r_upd', states: RESOURCE_STATES });
    const r = await e.update({ keys: [1, 2, 3], set: { owner: 'owner-2', amount: 9.99 }, actor: 'ops' });
    expect(r.changed).toEqual([1, 2, 3]);
    const again = await e.update({ keys: [1, 2], set: { owner: 'owner-2', amount: 9.99 }, actor: 'ops' });
    expect(again.unchanged).toEqual([1, 2]);
    const log = await e.history(2);
    expect(log).toHaveLength(1);
    expect(log[0]!.changed).toEqual(['amount', 'version']);
    expect(log[0]!.after).toMatchObject({ owner: 'owner-2', amount: 9.99, version: 1 });
  });

  it('create inserts at version 1 with a create entry the fold starts from', async () => {
    await t.db.exec(
      `CREATE TABLE r_new (id text PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, note text)`,
    );
    const tally = await createTally({ db: t.db });
    const e = tally.entity('r_new', { table: 'r_new', states: RESOURCE_STATES });
    const c = await e.create({
      rows: [
        { id: 'a', state: 'active', note: 'x' },
        { id: 'b', state: 'frozen' },
      ],
      actor: 'seed',
    });
    expect(c.created).toEqual(['a', 'b']);
    await e.transition({ key: 'a', to: 'frozen', actor: 'ops' });
    const log = await e.history('a');
    expect(log.map((l) => [l.version, l.action, l.before?.state ?? null, l.after?.state])).toEqual([
      [1, 'create', null, 'active'],
      [2, 'transition', 'active', 'frozen'],
    ]);
    expect((await e.verify('a')).ok).toBe(true);
    expect((await e.verify('b')).ok).toBe(true);
  });
});

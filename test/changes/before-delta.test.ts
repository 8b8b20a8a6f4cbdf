import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrations } from '../../src/schema/migrations.js';
import { bootstrap, recordVersion } from '../../src/schema/sql.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';
import { chainAsLegacy, insertChainedLogSql } from './legacy-log.js';

// Decision 0007: the one-pass transition stores its before image as the old values of the changed
// fields, marked `before_delta`; other writers store full images. Readers always see the full image,
// the chain of a legacy log covers the mark, and logs written before migration 6 (full images, no mark)
// still verify. Since migration 10 new entries carry no chain (decision 0065): the mark of an unsealed
// new entry is covered by the image checks where it changes the full image, and by the tree once sealed.
describeEachDialect('before images stored as the changed fields only', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  async function entity(table: string) {
    await t.db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
        note text); INSERT INTO ${table} SELECT g, 'active', 0, 'n' || g FROM generate_series(1, 3) g;`);
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    return tally.entity(table, { table, states: RESOURCE_STATES });
  }

  const stored = (type: string, key: string) =>
    t.db.query<{ version: number; before: unknown; before_delta: boolean }>({
      text: `SELECT version::int AS version, before, before_delta FROM tally.log
              WHERE entity_type = $1 AND entity_key = $2 ORDER BY version`,
      values: [type, key],
    });

  it('a log mixing both forms reads as full images: history, stateAt and verify', async () => {
    const e = await entity('bd_mixed');
    await e.transition({ keys: [1, 2], to: 'frozen', actor: 'ops' }); // one pass: changed fields only
    await e.update({ key: 1, set: { note: 'x' }, actor: 'ops' }); // general statement: full image
    await e.transition({ key: 1, to: 'active', actor: 'ops' }); // one pass again
    expect((await stored('bd_mixed', '1')).map((r) => [r.before, r.before_delta])).toEqual([
      [{ state: 'active', version: 0 }, true],
      [{ id: 1, state: 'frozen', version: 1, note: 'n1' }, false],
      [{ state: 'frozen', version: 2 }, true],
    ]);
    const log = await e.history(1);
    expect(log.map((l) => l.before)).toEqual([
      { id: 1, state: 'active', version: 0, note: 'n1' },
      { id: 1, state: 'frozen', version: 1, note: 'n1' },
      { id: 1, state: 'frozen', version: 2, note: 'x' },
    ]);
    // Each full before image is the previous after image.
    expect(log.slice(1).map((l) => l.before)).toEqual(log.slice(0, -1).map((l) => l.after));
    expect(await e.stateAt(1, { version: 0 })).toEqual({ id: 1, state: 'active', version: 0, note: 'n1' });
    expect((await e.verify(1)).problems).toEqual([]);
    expect((await e.verify(2)).problems).toEqual([]);
  });

  it('the hash of a legacy (chained) log covers the mark and the stored changed fields', async () => {
    const e = await entity('bd_tamper');
    await e.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'ops' });
    await e.update({ keys: [1, 2, 3], set: { note: 'y' }, actor: 'ops' });
    await chainAsLegacy(t.db, 'tally', 'bd_tamper');
    for (const key of [1, 2, 3]) expect((await e.verify(key)).problems).toEqual([]);
    const edit = (sql: string, key: string) =>
      t.db.exec(`UPDATE tally.log SET ${sql} WHERE entity_type = 'bd_tamper' AND entity_key = '${key}'
                   AND version = ${key === '3' ? 2 : 1}`);
    await edit(`before_delta = false`, '1'); // a changed-fields entry read as a full image
    await edit(`before = jsonb_set(before, '{state}', '"retired"')`, '2'); // its stored old value
    await edit(`before_delta = true`, '3'); // a full-image entry marked as changed fields
    for (const [key, version] of [
      [1, 1],
      [2, 1],
      [3, 2],
    ] as const) {
      expect((await e.verify(key)).problems).toContain(
        `version ${version}: hash does not match the entry (edited)`,
      );
    }
  });

  it('a log written before migration 6 verifies, and new (unchained) entries follow it', async () => {
    // Tally's schema at version 5, and a log written as the code before decision 0007 wrote it: full
    // before images, the hash text without the mark.
    await t.db.exec(`DROP SCHEMA IF EXISTS tally CASCADE`);
    await t.db.exec(bootstrap('tally'));
    for (const m of migrations.filter((x) => x.version <= 5)) {
      await t.db.exec(m.sql('tally'));
      await t.db.query(recordVersion('tally', m.version, m.name));
    }
    await t.db.exec(`CREATE TABLE bd_old (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO bd_old VALUES (1, 'frozen', 1)`);
    const row = (state: string, version: number) =>
      `jsonb_build_object('id', 1, 'state', '${state}', 'version', ${version})`;
    const entry = (version: number, before: string, after: string, prev: string) =>
      insertChainedLogSql(
        'tally',
        `SELECT 'bd_old'::text AS entity_type, '1'::text AS entity_key, ${version}::int8 AS version,
                'transition'::text AS action, 'ops'::text AS actor, NULL::text AS source_ip, NULL::text AS reason,
                NULL::text AS request_id, NULL::text AS command_id, ${before} AS before, ${after} AS after,
                '{state,version}'::text[] AS changed, timestamptz '2026-01-01Z' AS at, ${prev} AS prev_hash`,
      );
    await t.db.exec(entry(1, row('active', 0), row('frozen', 1), 'NULL::bytea'));
    const tally = await createTally({ db: t.db });
    expect(await tally.migrate()).toMatchObject({
      from: 5,
      applied: migrations.filter((m) => m.version > 5).map((m) => m.version), // 6 and every later one
    });
    const e = tally.entity('bd_old', { table: 'bd_old', states: RESOURCE_STATES });
    expect((await e.verify(1)).problems).toEqual([]);
    await e.transition({ key: 1, to: 'active', actor: 'ops' });
    expect((await stored('bd_old', '1')).map((r) => r.before_delta)).toEqual([false, true]);
    expect((await e.history(1)).map((l) => l.before)).toEqual([
      { id: 1, state: 'active', version: 0 },
      { id: 1, state: 'frozen', version: 1 },
    ]);
    expect((await e.verify(1)).problems).toEqual([]);
    // Carried over unrewritten: the old entry keeps its hash, the new one has none.
    const hashes = await t.db.query<{ has: boolean }>({
      text: `SELECT hash IS NOT NULL AS has FROM tally.log WHERE entity_type = 'bd_old' ORDER BY version`,
    });
    expect(hashes.map((h) => h.has)).toEqual([true, false]);
    // Migration 10 recorded where the chain ends: the old entry stripped of its hash reads as edited.
    await t.db.exec(`UPDATE tally.log SET hash = NULL WHERE entity_type = 'bd_old' AND version = 1`);
    expect((await e.verify(1)).problems).toEqual(['version 1: hash does not match the entry (edited)']);
  });
});

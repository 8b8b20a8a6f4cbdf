import { afterAll, beforeAll, expect, it } from 'vitest';
import { fullBeforeSql } from '../../src/changes/hash-sql.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, RESOURCE_STATES, recording } from '../support/resources.js';

// A transition with one source state on a table without triggers takes the one-pass statement, which
// stores the before image as the two changed fields (decision 0007). Read back as a full image, it must
// log exactly what the general statement logs.
describeEachDialect('the one-pass transition writes the same log as the general statement', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  async function table(name: string, trigger: boolean) {
    await t.db.exec(`CREATE TABLE ${name} (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
        owner text, amount numeric(12, 2), meta jsonb);
      INSERT INTO ${name} SELECT g, CASE WHEN g % 5 = 0 THEN 'frozen' ELSE 'active' END, 0, 'o' || g, g * 1.25,
        jsonb_build_object('tier', g % 4) FROM generate_series(1, 200) g;`);
    if (trigger) {
      // A trigger that changes nothing still forces the general statement (Tally cannot know that).
      await t.db.exec(`CREATE FUNCTION ${name}_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER ${name}_noop BEFORE UPDATE ON ${name} FOR EACH ROW EXECUTE FUNCTION ${name}_noop();`);
    }
    const rec = recording(t.db);
    const tally = await createTally({ db: rec.db, clock: () => new Date('2026-11-22T00:00:00Z') });
    await tally.migrate();
    return { e: tally.entity(name, { table: name, states: RESOURCE_STATES }), statements: rec.statements };
  }

  it('same results, before/after images, changed fields and versions on both paths', async () => {
    const fast = await table('fp_fast', false);
    const general = await table('fp_general', true);
    const keys = Array.from({ length: 200 }, (_, i) => i + 1);
    fast.statements.length = 0;
    general.statements.length = 0;
    const a = await fast.e.transition({ keys, to: 'frozen', actor: 'ops' });
    const b = await general.e.transition({ keys, to: 'frozen', actor: 'ops' });
    expect(fast.statements.some((s) => s.includes('jsonb_build_object('))).toBe(true);
    expect(general.statements.some((s) => s.includes('jsonb_build_object('))).toBe(false);
    expect(a).toEqual(b);
    expect(a.changed).toHaveLength(160);
    expect(a.unchanged).toHaveLength(40);
    const logOf = (type: string) =>
      t.db.query({
        text: `SELECT entity_key, version, ${fullBeforeSql('l')} AS before, after, changed FROM tally.log l
                WHERE entity_type = $1 ORDER BY entity_key::int`,
        values: [type],
      });
    expect(await logOf('fp_fast')).toEqual(await logOf('fp_general'));
    // What each path stores: the changed fields' old values (marked), or the full image (unmarked).
    const stored = (type: string) =>
      t.db.query<{ before: unknown; before_delta: boolean }>({
        text: `SELECT before, before_delta FROM tally.log WHERE entity_type = $1 AND entity_key = '7'`,
        values: [type],
      });
    expect(await stored('fp_fast')).toEqual([
      { before: { state: 'active', version: 0 }, before_delta: true },
    ]);
    expect(await stored('fp_general')).toEqual([
      {
        before: { id: 7, state: 'active', version: 0, owner: 'o7', amount: 8.75, meta: { tier: 3 } },
        before_delta: false,
      },
    ]);
    expect(await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'fp_fast'`)).toBe(160);
    for (const k of [1, 5, 7, 200]) expect((await fast.e.verify(k)).problems).toEqual([]);
    // A second hop chains to the first on the one-pass statement too.
    await fast.e.transition({ keys: [1, 2], to: 'active', actor: 'ops' });
    await fast.e.transition({ keys: [1], to: 'frozen', actor: 'ops' });
    expect((await fast.e.history(1)).map((l) => l.version)).toEqual([1, 2, 3]);
    expect((await fast.e.verify(1)).problems).toEqual([]);
  });
});

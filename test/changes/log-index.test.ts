import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

// Migration 6: each entity's next log entry goes right beside its previous one in the per-entity index,
// so the index leaves room in its leaves (decision 0007) instead of packing them full on an in-order load.
describeEachDialect('the per-entity log index', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('keeps its name, columns and hash, and fills its pages to 70%', async () => {
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    const [ix] = await t.db.query<{ def: string; options: string[] | null }>({
      text: `SELECT pg_get_indexdef(c.oid) AS def, c.reloptions AS options FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tally' AND c.relname = 'log_entity_version'`,
    });
    expect(ix!.def).toContain(
      'UNIQUE INDEX log_entity_version ON tally.log USING btree (entity_type, entity_key, version) INCLUDE (hash)',
    );
    expect(ix!.options).toEqual(['fillfactor=70']);
  });
});
